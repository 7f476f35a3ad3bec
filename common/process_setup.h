// Process-wide settings both daemons need before their first event_base exists.
#pragma once

namespace minisync {

// Ignores SIGPIPE (OpenSSL writes alerts into sockets whose peer is gone) and the signals that have no use
// yet, raises the soft limit on open files to the hard one, keeps freed buffers for reuse rather than
// returning them to the kernel at once, and turns on libevent's pthread locking (worker threads wake the
// loop with event_active()).
void prepare_process();

} // namespace minisync
