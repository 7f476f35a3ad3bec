// The RENAME frame.
#include "rename_request.h"

namespace minisync::agent {

RenameRequest::RenameRequest(FrameSink& sink, std::uint32_t id, const std::string& folder, const std::string& from,
                             const std::string& to)
    : OneAnswerRequest{sink, id, protocol::encode(protocol::RenameMsg{id, folder, from, to}),
                       protocol::FrameType::Done}
{
}

} // namespace minisync::agent
