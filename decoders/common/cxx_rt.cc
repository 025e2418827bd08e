// The C++ runtime pieces the decoder needs, on the module's malloc: no
// exceptions (-fno-exceptions), so a failed allocation traps, as libc++'s
// own operator new does when built without exceptions.
#include <stdlib.h>
#include <new>
void *operator new(size_t n) { void *p = malloc(n ? n : 1); if (!p) __builtin_trap(); return p; }
void *operator new[](size_t n) { return operator new(n); }
void *operator new(size_t n, const std::nothrow_t &) noexcept { return malloc(n ? n : 1); }
void *operator new[](size_t n, const std::nothrow_t &) noexcept { return malloc(n ? n : 1); }
void operator delete(void *p) noexcept { free(p); }
void operator delete[](void *p) noexcept { free(p); }
void operator delete(void *p, size_t) noexcept { free(p); }
void operator delete[](void *p, size_t) noexcept { free(p); }
extern "C" void __cxa_pure_virtual() { __builtin_trap(); }

#ifdef SHIM_CXX_PIC
// Without libc++.a (PIC builds): the out-of-line pieces of shared_ptr's
// control block, single-threaded, as in libc++'s memory.cpp.
#include <memory>
#include <typeinfo>
#include <ios>
_LIBCPP_BEGIN_NAMESPACE_STD
__shared_count::~__shared_count() {}
__shared_weak_count::~__shared_weak_count() {}
void __shared_weak_count::__release_weak() noexcept {
  if (--__shared_weak_owners_ == -1) __on_zero_shared_weak();
}
const void *__shared_weak_count::__get_deleter(const type_info &) const noexcept { return nullptr; }
// Reached only by libde265's context_model_table::debug_dump (a stringstream),
// which decoding never calls.
locale::~locale() { __builtin_trap(); }
ios_base::~ios_base() { __builtin_trap(); }
_LIBCPP_END_NAMESPACE_STD
#endif
