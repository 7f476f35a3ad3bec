// What follows a rename the server did not apply (nothing at the old path, something in the way, or BUSY
// until the retries ran out): the new path is sent as new, and the old path is removed on the server only
// once the new one is in place there, so no moment exists when the server holds neither.
//
// For each such rename:
//   compare the new path with the state database (which sends what differs, files offered by hash first)
//     -> in place: the old path is removed (a tree removal for a directory)
//     -> not yet: once nothing at or below the new path waits or runs, compare again
//   After MaxComparisons comparisons that did not find it in place (a file the server keeps refusing, a
//   file that never stops changing, the new path gone meanwhile) the old path is left on the server: a
//   duplicate, never a loss. Its records stay in the state database, so the agent's next start-up
//   comparison removes it there as it removes anything recorded and gone.
// Loop thread only; the comparison, the wait and the removal are given as functions, so the policy is
// unit-tested without a watcher or a scheduler.
#pragma once

#include "sync_queue.h"

#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>

namespace minisync::agent {

class RenameFallback {
public:
    static constexpr std::uint32_t MaxComparisons = 3;

    // compare(folder, path, done): compares path with the records, sends what differs, then done(in_place).
    using Compare = std::function<void(std::size_t folder, std::string path, std::function<void(bool in_place)>)>;
    // when_settled(folder, path, done): done() once nothing at, above or below path waits or runs.
    using WhenSettled = std::function<void(std::size_t folder, std::string path, std::function<void()>)>;
    // Queues the removal of the old path.
    using Remove = std::function<void(SyncItem removal)>;
    // The folder's name, for the log.
    using FolderName = std::function<const std::string&(std::size_t folder)>;

    RenameFallback(Compare compare, WhenSettled when_settled, Remove remove, FolderName folder_name);

    // rename (kind Rename: from, path, tree) was not applied on the server.
    void start(const SyncItem& rename);

private:
    void compare(SyncItem rename, std::uint32_t comparisons);
    void compared(SyncItem rename, std::uint32_t comparisons, bool in_place);

    Compare compare_;
    WhenSettled when_settled_;
    Remove remove_;
    FolderName folder_name_;
};

} // namespace minisync::agent
