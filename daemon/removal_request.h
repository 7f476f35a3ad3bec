// A path removed on the server: REMOVE of a file (or symlink) or of a whole tree, answered by REMOVED or
// ERROR. The scheduler has looked at the path first (it may exist again). States as OneAnswerRequest
// (request.h): Sent -> Answered.
#pragma once

#include "request.h"

#include <string>

namespace minisync::agent {

class RemovalRequest final : public OneAnswerRequest {
public:
    RemovalRequest(FrameSink& sink, std::uint32_t id, const std::string& folder, const std::string& path, bool tree);

    [[nodiscard]] bool tree() const noexcept { return tree_; }

private:
    const bool tree_;
};

} // namespace minisync::agent
