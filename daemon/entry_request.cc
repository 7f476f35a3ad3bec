// The frame of an entry request: MAKE_DIR with mode and mtime, or MAKE_SYMLINK with its target text.
#include "entry_request.h"

namespace minisync::agent {
namespace {

std::vector<std::uint8_t> encode_entry(std::uint32_t id, const std::string& folder, const std::string& path,
                                       const EntryRequest::Entry& entry)
{
    if (entry.kind == EntryKind::Directory) {
        return protocol::encode(protocol::MakeDirMsg{id, folder, path, entry.mode, entry.version.mtime_ns});
    }
    return protocol::encode(protocol::MakeSymlinkMsg{id, folder, path, entry.link_target, entry.version.mtime_ns});
}

} // namespace

EntryRequest::EntryRequest(FrameSink& sink, std::uint32_t id, const std::string& folder, const std::string& path,
                           Entry entry)
    : OneAnswerRequest{sink, id, encode_entry(id, folder, path, entry), protocol::FrameType::Done},
      entry_{std::move(entry)}
{
}

} // namespace minisync::agent
