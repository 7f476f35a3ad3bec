// Removal of partial uploads that nobody resumed: a walk of the server root, on a worker thread, that
// deletes `.minisync.*.part` files untouched for longer than the configured age.
#pragma once

#include <atomic>
#include <chrono>
#include <cstddef>
#include <string>
#include <vector>

namespace minisync::server {

struct SweepResult {
    std::size_t removed = 0;
    std::size_t kept = 0;
    std::vector<std::string> errors;
};

// Walks every client namespace below root_fd without following symlinks; the server's own dot-names
// directly under the root are skipped. Ends early once stop is set.
SweepResult sweep_stale_partials(int root_fd, std::chrono::seconds max_age, const std::atomic<bool>& stop);

} // namespace minisync::server
