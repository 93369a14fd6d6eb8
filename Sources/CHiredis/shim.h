// Debian's libhiredis-dev: the Redis C client (its synchronous API).
#include <hiredis/hiredis.h>
