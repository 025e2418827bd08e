/* dav1d's <dav1d/dav1d.h> includes "version.h"; the one header generated
 * for it (meson's include/dav1d/version.h) is gen/dav1d/version.h. */
#include "dav1d/version.h"
