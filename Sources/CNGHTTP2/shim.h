#ifndef PUSHD_CNGHTTP2_SHIM_H
#define PUSHD_CNGHTTP2_SHIM_H
#include <nghttp2/nghttp2.h>
#endif
