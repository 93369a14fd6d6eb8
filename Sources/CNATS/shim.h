// Debian's libnats-dev: the NATS C client, JetStream included.
#include <nats/nats.h>
