// Which (client, folder, path) is being written, and the strand that writes it. After a request ends,
// its path keeps the strand until the work already queued there (discarding a partial, say) has run,
// so a new request for the same path queues behind that work instead of racing it. A removal of a
// whole tree holds everything below its path too. Loop thread only.
#pragma once

#include "loop_inbox.h"
#include "worker_pool.h"

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <map>
#include <vector>

namespace minisync::server {

class PathLocks {
public:
    struct Lease {
        std::shared_ptr<Strand> strand;
        std::uint64_t generation = 0;
    };

    PathLocks(WorkerPool& pool, LoopInbox& inbox) : pool_{pool}, inbox_{inbox} {}
    PathLocks(const PathLocks&) = delete;
    PathLocks& operator=(const PathLocks&) = delete;

    // Keys are "<client>\0<folder>\0<path>". Nothing when a live request holds the path, when a tree
    // removal holds a directory above it, or (for whole_tree) when a live request holds a path below it.
    std::optional<Lease> acquire(const std::string& key, bool whole_tree = false);
    // The strands of every path below key that still hold work (a live request's, or an ended one's
    // that has not run yet, like the discarding of a partial file).
    [[nodiscard]] std::vector<std::shared_ptr<Strand>> strands_below(const std::string& key) const;
    // Ends the lease; the entry goes once its strand is idle, unless someone acquired it meanwhile.
    void release(const std::string& key, std::uint64_t generation);
    [[nodiscard]] std::size_t size() const noexcept { return entries_.size(); }

private:
    struct Entry {
        std::shared_ptr<Strand> strand;
        std::uint64_t generation = 0;
        bool held = false;
        bool whole_tree = false;
    };

    WorkerPool& pool_;
    LoopInbox& inbox_;
    // Ordered, so the paths below a directory are one range.
    std::map<std::string, Entry> entries_;
    std::uint64_t next_generation_ = 1;
};

} // namespace minisync::server
