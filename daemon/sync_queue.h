// Paths waiting to be sent, in arrival order, each at most once: a burst of events on one path
// collapses into a single entry, and the latest kind (upload or remove) wins. Loop thread only.
#pragma once

#include "file_version.h"

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <optional>
#include <string>
#include <unordered_map>

namespace minisync::agent {

// Where an interrupted upload of this path stopped: the server held offset bytes of this version.
struct ResumeHint {
    FileVersion version;
    std::uint64_t offset = 0;
};

// One thing to send. Upload means "make the server hold what is at this path now", whatever kind of
// entry that turns out to be when it is looked at (a file, a directory, a symlink, or nothing: a removal).
struct SyncItem {
    enum class Kind { Upload, Remove, Rename };
    std::size_t folder = 0;
    std::string path; // Rename: the new path
    Kind kind = Kind::Upload;
    // Remove: a directory went (deleted or moved away), so the server removes the whole tree there.
    // Rename: a directory moved.
    bool tree = false;
    // The server may already hold this version (found by a scan, or a chmod or touch): it is asked first
    // whether a file of this size is there, and only then is the file hashed before it is offered.
    bool verify_first = false;
    // The server answered that it holds a file of this size at the path: hash before offering it.
    bool hash_requested = false;
    std::optional<ResumeHint> resume;
    std::string from; // Rename only: the old path
    // Rename only: how many times the server answered BUSY or another error that may pass, each followed by
    // a retry after a longer wait (OutcomeJudge::MaxRenameRetries, RetryQueue::backoff_rounds).
    std::uint32_t rename_retries = 0;
    // A file still being written: what it held up to its size when opened is committed even if it grew
    // meanwhile (a log is sent as it grows, not only once it is closed).
    bool growing = false;
    // A directory's mode and mtime, sent once the work inside it is done (that work changes its mtime).
    bool settle = false;
    // When the change was first seen (the earliest of those merged into this item): the start of the
    // sync latency the agent reports.
    std::chrono::steady_clock::time_point seen{};
};

SyncItem removal_item(std::size_t folder, std::string path, bool tree);

// True when a and b are the same path or one lies below the other.
bool paths_overlap(const std::string& a, const std::string& b);

// A rename supersedes what is queued at or below its old path: after it, the new path is compared with
// the state database, which covers those changes. Anything queued for the new path afterwards waits for
// that comparison too, so it folds into the rename.
class SyncQueue {
public:
    void push(SyncItem item);
    [[nodiscard]] const SyncItem* front() const;
    std::optional<SyncItem> pop();
    [[nodiscard]] std::size_t size() const noexcept { return order_.size(); }
    [[nodiscard]] std::size_t count(std::size_t folder) const;
    [[nodiscard]] bool empty() const noexcept { return order_.empty(); }
    // Something queued in the folder is at, above or below path (for a rename: its new or its old path).
    [[nodiscard]] bool touches(std::size_t folder, const std::string& path) const;
    // Everything queued for the folder goes.
    void drop_folder(std::size_t folder);

private:
    static std::string key_of(std::size_t folder, const std::string& path);
    void push_rename(SyncItem rename);
    void append(std::string key, SyncItem item);

    std::deque<std::string> order_;
    std::unordered_map<std::string, SyncItem> items_;
};

} // namespace minisync::agent
