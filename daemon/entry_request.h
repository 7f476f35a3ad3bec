// A directory or a symlink mirrored on the server: MAKE_DIR or MAKE_SYMLINK, answered by DONE or ERROR.
// States as OneAnswerRequest (request.h): Sent -> Answered.
#pragma once

#include "entry_kind.h"
#include "file_version.h"
#include "request.h"

#include <cstdint>
#include <string>

namespace minisync::agent {

class EntryRequest final : public OneAnswerRequest {
public:
    struct Entry {
        EntryKind kind = EntryKind::Directory; // Directory or Symlink
        FileVersion version;
        std::uint32_t mode = 0;
        std::string link_target; // Symlink only
    };

    EntryRequest(FrameSink& sink, std::uint32_t id, const std::string& folder, const std::string& path, Entry entry);

    [[nodiscard]] const Entry& entry() const noexcept { return entry_; }

private:
    const Entry entry_;
};

} // namespace minisync::agent
