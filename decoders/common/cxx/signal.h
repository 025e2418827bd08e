/* signal.h: libde265 includes it and uses nothing from it. */
