// What the agent's requests achieved, kept where status, the metrics and the state database read it: each
// change the server acknowledged is recorded in the state database and counted, with its latency; bytes
// sent and resumed, failures and the latest error are tallied. Loop thread only.
#pragma once

#include "agent_metrics.h"
#include "folder_table.h"
#include "job_table.h"
#include "state_writer.h"

#include <cstdint>
#include <string>

namespace minisync::agent {

struct UploadStats {
    std::uint64_t files_synced = 0;
    std::uint64_t bytes_sent = 0; // file content, not wire bytes
    std::uint64_t failures = 0;
    std::uint64_t files_removed = 0;
    std::uint64_t resumed_bytes = 0; // not sent again thanks to resume
};

class RequestLedger {
public:
    // Records go under each folder's state database id (Folder::state_id).
    RequestLedger(StateWriter& state, AgentMetrics& metrics, const FolderTable& folders)
        : state_{state}, metrics_{metrics}, folders_{folders}
    {
    }

    // The server holds the job's file, directory or symlink (committed, applied, or held already).
    void committed(const Job& job);
    // The server holds the job's file already; recorded when its hash is known.
    void already_held(const Job& job);
    void removed(const Job& job);
    void renamed(const Job& job);
    // The server confirmed more of the job's upload durable: where it resumes after a restart.
    void progressed(const Job& job);

    void sent(std::uint64_t bytes);
    void resumed(std::uint64_t bytes);
    // A local file could not be opened; where is "<folder name>/<path>", shown in status.
    void open_failed(const std::string& where, const std::string& error);
    // A local file could not be read on (it is sent again once it settles).
    void read_failed();
    // The server refused a request.
    void refused();
    // The latest error, shown in status; where is "<folder name>/<path>".
    void failed(const std::string& where, const std::string& error);

    [[nodiscard]] const UploadStats& stats() const noexcept { return stats_; }
    [[nodiscard]] const std::string& last_error() const noexcept { return last_error_; }

private:
    // An acknowledged change: counted as synced (an entry) or not (a removal), and its latency observed.
    void count_acknowledged(const Job& job, bool entry_synced);

    StateWriter& state_;
    AgentMetrics& metrics_;
    const FolderTable& folders_;
    UploadStats stats_;
    std::string last_error_;
};

} // namespace minisync::agent
