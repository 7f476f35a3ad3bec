// Batches state changes on the loop thread and writes them to the StateStore on one strand, a
// transaction per batch, so neither SQLite nor its fsyncs ever run on the loop. Loop thread only.
#pragma once

#include "agent_metrics.h"
#include "libevent_handles.h"
#include "loop_inbox.h"
#include "state_store.h"
#include "worker_pool.h"

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace minisync::agent {

class StateWriter {
public:
    StateWriter(event_base* base, LoopInbox& inbox, WorkerPool& pool, std::shared_ptr<StateStore> store,
                AgentMetrics& metrics);
    StateWriter(const StateWriter&) = delete;
    StateWriter& operator=(const StateWriter&) = delete;

    void record(StateChange change);
    // The folder's records as of every change recorded so far (pending ones are written first);
    // done runs on the loop thread. When the database cannot give them, the failure is logged and counted
    // and done gets no records (see state_writer.cc for why that is safe).
    void load_folder(std::int64_t folder_id, std::function<void(std::shared_ptr<const FolderRecords>)> done);
    // The same for path and everything below it.
    void load_subtree(std::int64_t folder_id, std::string path,
                      std::function<void(std::shared_ptr<const FolderRecords>)> done);
    // What the state database holds for a folder name (created on first use), for a folder added by a
    // reload; a failure is counted here and left to done to report.
    void open_folder(std::string name, std::function<void(Result<StoredFolder>)> done);
    // Records the identity of the folder's root; a failure is logged and counted (the folder goes on, and
    // the identity is recorded again when next judged).
    void record_root(std::int64_t folder_id, RootIdentity identity);
    // After the worker pool has stopped: writes every batch not yet confirmed, on the calling thread.
    void write_remaining();

private:
    static void on_timer(evutil_socket_t, short, void* self) { static_cast<StateWriter*>(self)->flush(); }
    void flush();
    void load(std::int64_t folder_id, std::optional<std::string> subtree,
              std::function<void(std::shared_ptr<const FolderRecords>)> done);

    LoopInbox& inbox_;
    AgentMetrics& metrics_;
    const std::shared_ptr<StateStore> store_;
    const std::shared_ptr<Strand> strand_;
    const EventPtr timer_;
    std::vector<StateChange> pending_;
    // Batches handed to the strand and not yet reported written; replayed by write_remaining().
    std::map<std::uint64_t, std::shared_ptr<const std::vector<StateChange>>> unconfirmed_;
    std::uint64_t next_batch_ = 1;
};

} // namespace minisync::agent
