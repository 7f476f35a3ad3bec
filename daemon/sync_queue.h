// Paths waiting to be sent, in arrival order, each at most once: a burst of events on one path
// collapses into a single entry, and the latest kind (upload or remove) wins. Loop thread only.
#pragma once

#include "file_version.h"

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

struct SyncItem {
    enum class Kind { Upload, Remove };
    std::size_t folder = 0;
    std::string path;
    Kind kind = Kind::Upload;
    // Remove only: a directory went (deleted or moved away), so the server removes the whole tree there.
    bool tree = false;
    // The server may already hold this version (found by a scan, not by an event): send the hash first.
    bool verify_first = false;
    std::optional<ResumeHint> resume;
};

class SyncQueue {
public:
    void push(SyncItem item);
    std::optional<SyncItem> pop();
    [[nodiscard]] std::size_t size() const noexcept { return order_.size(); }
    [[nodiscard]] bool empty() const noexcept { return order_.empty(); }

private:
    static std::string key_of(std::size_t folder, const std::string& path);

    std::deque<std::string> order_;
    std::unordered_map<std::string, SyncItem> items_;
};

} // namespace minisync::agent
