// What every connection shares with the server that owns it: the loop, the workers, the settings, the
// metrics and the locks that span connections.
#pragma once

#include "client_connections.h"
#include "client_uploads.h"
#include "fd_budget.h"
#include "group_commit.h"
#include "handshake_admission.h"
#include "idle_memory_release.h"
#include "loop_inbox.h"
#include "path_locks.h"
#include "server_metrics.h"
#include "server_settings.h"
#include "worker_pool.h"

#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>

namespace minisync::server {

class ClientSession;

struct SessionContext {
    LoopInbox& inbox;
    WorkerPool& pool;
    const ServerSettings& settings;
    // The connection, handshake and open-upload limits in effect (the settings', or sized from the
    // open-file limit).
    const ServerLimits& limits;
    int root_fd;
    ServerMetrics& metrics;
    // Paths being uploaded by any session, so two requests never write the same partial file.
    PathLocks& path_locks;
    GroupCommitter& commits;
    // Told as each request ends, so the buffers of a finished transfer are handed back once all is quiet.
    IdleMemoryRelease& memory_release;
    // Completions from workers find their session by id, since it may have closed meanwhile
    // (session_completion.h).
    std::function<ClientSession*(std::uint64_t)> find_session;
    std::function<void(std::uint64_t)> session_closed;
    // Connections past their handshake, per client CN and in all.
    ClientConnections& connections;
    // Uploads with their partial file open, per client CN and in all.
    ClientUploads& uploads;
};

} // namespace minisync::server
