// libzstd (Debian: libzstd-dev), used on the host only: the reference the Swift decoder is tested against.
#define ZSTD_STATIC_LINKING_ONLY
#include <zstd.h>
