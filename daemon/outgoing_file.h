// The disk side of one upload on the agent: the open file, its identity when opened, and the SHA-256
// of exactly the bytes read for sending. Blocking; every method runs on the upload's strand.
#pragma once

#include "sha256.h"
#include "unique_fd.h"

#include <atomic>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace minisync::agent {

class OutgoingFile {
public:
    enum class Status { Ready, Gone, Failed };

    struct Opened {
        Status status = Status::Failed;
        std::uint64_t size = 0;
        std::int64_t mtime_ns = 0;
        std::uint32_t mode = 0;
        std::optional<Sha256Digest> sha256; // when hashing first was asked for
        std::string error;
    };

    struct Chunk {
        bool ok = false; // false: read error or the file shrank; the upload must start over
        std::vector<std::uint8_t> data;
        std::string error;
    };

    struct Finished {
        bool unchanged = false; // same size, mtime and content as when opened
        Sha256Digest sha256{};
    };

    // stop is checked while hashing, so a daemon shutting down is not held up by a large file.
    OutgoingFile(std::string folder_root, std::string relative_path, const std::atomic<bool>& stop)
        : folder_root_{std::move(folder_root)}, relative_path_{std::move(relative_path)}, stop_{stop}
    {
    }

    Opened open(bool hash_first);
    // Reads must come in offset order: they feed the running hash.
    Chunk read(std::uint64_t offset, std::size_t length);
    Finished finish();

private:
    [[nodiscard]] std::string display_path() const { return folder_root_ + "/" + relative_path_; }

    std::string folder_root_;
    std::string relative_path_;
    const std::atomic<bool>& stop_;
    UniqueFd fd_;
    std::uint64_t size_ = 0;
    std::int64_t mtime_ns_ = 0;
    std::optional<Sha256Digest> first_hash_;
    Sha256 hasher_;
};

} // namespace minisync::agent
