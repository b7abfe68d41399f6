#ifndef MESHFL_COPENBLAS_SHIM_H
#define MESHFL_COPENBLAS_SHIM_H

// Debian's libopenblas-dev installs cblas.h through the alternatives system;
// the include path is provided by pkg-config (openblas) or the default /usr/include.
#include <cblas.h>

// Provided by OpenBLAS; declared here in case the installed cblas.h does not.
void openblas_set_num_threads(int num_threads);
int openblas_get_num_threads(void);

#endif
