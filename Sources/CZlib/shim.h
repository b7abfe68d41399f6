#ifndef MESHFL_CZLIB_SHIM_H
#define MESHFL_CZLIB_SHIM_H
#include <zlib.h>
#endif
