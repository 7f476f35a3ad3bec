// The REMOVE frame: kind File leaves a directory standing on the server, kind Tree removes whatever is there.
#include "removal_request.h"

namespace minisync::agent {

RemovalRequest::RemovalRequest(FrameSink& sink, std::uint32_t id, const std::string& folder, const std::string& path,
                               bool tree)
    : OneAnswerRequest{sink, id,
                       protocol::encode(protocol::RemoveMsg{
                           id, folder, path, tree ? protocol::RemoveKind::Tree : protocol::RemoveKind::File}),
                       protocol::FrameType::Removed},
      tree_{tree}
{
}

} // namespace minisync::agent
