// The handler table for request frames, and one handler per frame: admit or find the request, drive it.
#include "frame_handlers.h"

#include "entry_ops.h"
#include "entry_change.h"
#include "path_rules.h"
#include "protocol_codec.h"
#include "put_file_request.h"
#include "removal.h"
#include "upload_request.h"

#include <array>
#include <optional>
#include <string>
#include <utility>

namespace minisync::server {
namespace {

using protocol::ErrorCode;
using protocol::FrameType;

void reject_malformed(SessionRequests& requests, FrameType type)
{
    requests.connection().reject_connection(ErrorCode::BadFrame, std::string{"malformed "} + to_string(type),
                                            RejectReason::BadFrame);
}

// The live upload for a DATA or COMMIT. Nothing when the frame was dropped or the connection refused:
// a stale id, an unknown one, or a request that takes no such frame in its current state (out_of_place).
UploadRequest* live_upload(SessionRequests& requests, std::uint32_t request_id, FrameType frame,
                           const char* out_of_place)
{
    ClientRequest* request = requests.live(request_id, frame);
    if (request == nullptr) {
        return nullptr;
    }
    auto* upload = dynamic_cast<UploadRequest*>(request);
    if (upload == nullptr) {
        requests.connection().reject_connection(ErrorCode::BadFrame, out_of_place, RejectReason::Protocol);
    }
    return upload;
}

constexpr const char* DataOutOfPlace = "DATA before UPLOAD_READY or after COMMIT";
constexpr const char* CommitOutOfPlace = "COMMIT before UPLOAD_READY or repeated";

void handle_begin(SessionRequests& requests, protocol::UploadBegin&& begin, ByteBuffer&& /*body*/)
{
    const std::uint32_t request_id = begin.request_id;
    auto* upload = requests.admit<UploadRequest>({request_id, begin.folder, begin.path}, begin.size);
    if (upload == nullptr || requests.refused_as_too_large(request_id, begin.folder, begin.path, begin.size)) {
        return;
    }
    std::optional<ClientUploads::Slot> slot = requests.take_upload_slot(request_id, begin.folder, begin.path);
    if (!slot) {
        return;
    }
    SessionContext& context = requests.context();
    upload->open(UploadTarget{requests.client(), std::move(begin.folder), std::move(begin.path), begin.size,
                              begin.mtime_ns, begin.mode, begin.sha256, begin.hash_if_present,
                              begin.resume_offset, begin.prefix_sha256},
                 context.root_fd, context.pool.stop_requested(),
                 requests.completion().reporter<IncomingUpload::OpenResult>(
                     [request_id](SessionRequests& session, const IncomingUpload::OpenResult& result) {
                         session.on_upload_opened(request_id, result);
                     }),
                 std::move(*slot));
}

void handle_put(SessionRequests& requests, protocol::PutFile&& put, ByteBuffer&& body)
{
    const std::uint32_t request_id = put.request_id;
    auto* request = requests.admit<PutFileRequest>({request_id, put.folder, put.path});
    const std::size_t size = put.content.size();
    if (request == nullptr || requests.refused_as_too_large(request_id, put.folder, put.path, size)) {
        return;
    }
    std::optional<ClientUploads::Slot> slot = requests.take_upload_slot(request_id, put.folder, put.path);
    if (!slot) {
        return;
    }
    const auto content_offset = static_cast<std::size_t>(put.content.data() - body.data());
    SessionContext& context = requests.context();
    context.metrics.bytes_received.Increment(static_cast<double>(size));
    requests.queued_to_disk(size);
    request->put(UploadTarget{.client = requests.client(),
                              .folder = std::move(put.folder),
                              .path = std::move(put.path),
                              .size = size,
                              .mtime_ns = put.mtime_ns,
                              .mode = put.mode,
                              .sha256 = put.sha256},
                 context.root_fd, context.pool.stop_requested(), context.commits, std::move(body), content_offset,
                 requests.completion().reporter<IncomingUpload::PutResult>(
                     [request_id, size](SessionRequests& session, const IncomingUpload::PutResult& result) {
                         session.on_put_done(request_id, size, result);
                     }),
                 std::move(*slot));
}

void handle_commit(SessionRequests& requests, protocol::Commit&& commit, ByteBuffer&& /*body*/)
{
    const std::uint32_t request_id = commit.request_id;
    UploadRequest* upload = live_upload(requests, request_id, FrameType::Commit, CommitOutOfPlace);
    if (upload == nullptr) {
        return;
    }
    switch (upload->accept_commit()) {
    case UploadRequest::CommitCheck::OutOfPlace:
        requests.connection().reject_connection(ErrorCode::BadFrame, CommitOutOfPlace, RejectReason::Protocol);
        return;
    case UploadRequest::CommitCheck::Incomplete:
        requests.context().metrics.rejected(RejectReason::Protocol);
        requests.fail(request_id, ErrorCode::SizeMismatch,
                      "COMMIT after " + std::to_string(upload->next_offset()) + " of " +
                          std::to_string(upload->size()) + " bytes");
        return;
    case UploadRequest::CommitCheck::Accepted:
        break;
    }
    upload->commit(requests.context().commits, commit.sha256,
                   requests.completion().reporter<Result<void>>(
                       [request_id](SessionRequests& session, const Result<void>& committed) {
                           session.on_upload_committed(request_id, committed);
                       }));
}

// ABORT discards the partial file; SUSPEND keeps it for the agent to resume.
template <FrameType Type>
void handle_abort(SessionRequests& requests, protocol::RequestOnly&& abort, ByteBuffer&& /*body*/)
{
    static_assert(Type == FrameType::Abort || Type == FrameType::Suspend);
    if (requests.live(abort.request_id, Type) != nullptr) {
        requests.end(abort.request_id, Type == FrameType::Abort);
    }
}

// Runs a removal, directory, symlink or rename on the request's strand and answers with reply or ERROR.
void apply(SessionRequests& requests, std::uint32_t request_id, EntryChange& entry, EntryChange::Work work,
           FrameType reply)
{
    entry.apply(std::move(work), requests.completion().reporter<Result<void>>(
                                     [request_id, reply](SessionRequests& session, const Result<void>& applied) {
                                         session.on_applied(request_id, reply, applied);
                                     }));
}

void handle_remove(SessionRequests& requests, protocol::RemoveMsg&& remove, ByteBuffer&& /*body*/)
{
    const std::uint32_t request_id = remove.request_id;
    auto* entry = requests.admit<EntryChange>(
        {request_id, remove.folder, remove.path, remove.kind == protocol::RemoveKind::Tree});
    if (entry == nullptr) {
        return;
    }
    apply(requests, request_id, *entry,
          [&context = requests.context(), client = requests.client(), folder = std::move(remove.folder),
           path = std::move(remove.path), kind = remove.kind] {
              return remove_beneath(context.root_fd, client, folder, path, kind, context.pool.stop_requested());
          },
          FrameType::Removed);
}

void handle_make_dir(SessionRequests& requests, protocol::MakeDirMsg&& msg, ByteBuffer&& /*body*/)
{
    auto* entry = requests.admit<EntryChange>({msg.request_id, msg.folder, msg.path});
    if (entry == nullptr) {
        return;
    }
    // The mtime it sets must be the last word: work still queued below (a partial being discarded after
    // an ERROR or ABORT already answered) runs first.
    entry->run_after(requests.context().path_locks.strands_below(entry->lock_key()));
    apply(requests, msg.request_id, *entry,
          [root_fd = requests.context().root_fd, place = EntryPlace{requests.client(), msg.folder, msg.path},
           mode = msg.mode, mtime = msg.mtime_ns] { return make_directory(root_fd, place, mode, mtime); },
          FrameType::Done);
}

void handle_make_symlink(SessionRequests& requests, protocol::MakeSymlinkMsg&& msg, ByteBuffer&& /*body*/)
{
    auto* entry = requests.admit<EntryChange>({msg.request_id, msg.folder, msg.path});
    if (entry == nullptr) {
        return;
    }
    if (const auto problem = check_symlink_target(msg.target)) {
        requests.context().metrics.rejected(RejectReason::BadPath);
        requests.fail(msg.request_id, ErrorCode::BadPath, *problem);
        return;
    }
    apply(requests, msg.request_id, *entry,
          [root_fd = requests.context().root_fd, place = EntryPlace{requests.client(), msg.folder, msg.path},
           target = std::move(msg.target),
           mtime = msg.mtime_ns] { return make_symlink(root_fd, place, target, mtime); },
          FrameType::Done);
}

void handle_rename(SessionRequests& requests, protocol::RenameMsg&& msg, ByteBuffer&& /*body*/)
{
    auto* entry = requests.admit<EntryChange>({msg.request_id, msg.folder, msg.from, true, &msg.to});
    if (entry == nullptr) {
        return;
    }
    apply(requests, msg.request_id, *entry,
          [root_fd = requests.context().root_fd, from = EntryPlace{requests.client(), msg.folder, msg.from},
           to = std::move(msg.to)] { return rename_entry(root_fd, from, to); },
          FrameType::Done);
}

// Its arrival has reset the idle timer; there is nothing more to do.
void handle_keep_alive(SessionRequests& /*requests*/, ByteBuffer&& /*body*/) {}

using Handle = void (*)(SessionRequests&, ByteBuffer&&);

struct FrameHandler {
    FrameType type;
    // Null: the frame is taken elsewhere and ignored here.
    Handle handle;
    // Checked before dispatch; other bodies are checked by their decoders (see decoded()).
    bool body_must_be_empty = false;
};

// The body decoded (its length and fields checked) before handle sees it; a body the decoder refuses
// drops the connection. handle gets the body too, which the decoded message may point into.
template <FrameType Type, auto Decode, auto Handle>
void decoded(SessionRequests& requests, ByteBuffer&& body)
{
    auto message = Decode(body);
    if (!message) {
        reject_malformed(requests, Type);
        return;
    }
    Handle(requests, std::move(*message), std::move(body));
}

template <FrameType Type, auto Decode, auto Handle>
constexpr FrameHandler handled_by()
{
    return FrameHandler{Type, &decoded<Type, Decode, Handle>};
}

constexpr std::array<FrameHandler, 11> Handlers{{
    handled_by<FrameType::UploadBegin, &protocol::decode_upload_begin, &handle_begin>(),
    {FrameType::Data, nullptr}, // handle_data(), by way of FrameChannel::Handler::on_data_frame()
    handled_by<FrameType::PutFile, &protocol::decode_put_file, &handle_put>(),
    handled_by<FrameType::Commit, &protocol::decode_commit, &handle_commit>(),
    handled_by<FrameType::Abort, &protocol::decode_request_only, &handle_abort<FrameType::Abort>>(),
    handled_by<FrameType::Suspend, &protocol::decode_request_only, &handle_abort<FrameType::Suspend>>(),
    handled_by<FrameType::Remove, &protocol::decode_remove, &handle_remove>(),
    handled_by<FrameType::MakeDir, &protocol::decode_make_dir, &handle_make_dir>(),
    handled_by<FrameType::MakeSymlink, &protocol::decode_make_symlink, &handle_make_symlink>(),
    handled_by<FrameType::Rename, &protocol::decode_rename, &handle_rename>(),
    {FrameType::KeepAlive, &handle_keep_alive, true},
}};

const FrameHandler* handler_for(FrameType type) noexcept
{
    for (const FrameHandler& handler : Handlers) {
        if (handler.type == type) {
            return &handler;
        }
    }
    return nullptr;
}

} // namespace

void handle_request_frame(SessionRequests& requests, const protocol::FrameHeader& header, ByteBuffer&& body)
{
    const FrameHandler* handler = handler_for(header.type);
    if (handler == nullptr) {
        requests.connection().reject_connection(
            ErrorCode::BadFrame, "unexpected frame type " + std::to_string(static_cast<unsigned>(header.type)),
            RejectReason::BadFrame);
        return;
    }
    if (handler->body_must_be_empty && !body.empty()) {
        requests.connection().reject_connection(ErrorCode::BadFrame, std::string{to_string(header.type)} + " has a body",
                                                RejectReason::BadFrame);
        return;
    }
    if (handler->handle != nullptr) {
        handler->handle(requests, std::move(body));
    }
}

void handle_data(SessionRequests& requests, EvBufferPtr body)
{
    std::array<std::uint8_t, protocol::DataPrefixSize> raw_prefix{};
    const bool whole_prefix = evbuffer_copyout(body.get(), raw_prefix.data(), raw_prefix.size()) ==
                              static_cast<ev_ssize_t>(raw_prefix.size());
    const auto prefix = whole_prefix ? protocol::decode_data_prefix(raw_prefix) : std::nullopt;
    if (!prefix || evbuffer_drain(body.get(), raw_prefix.size()) != 0) {
        reject_malformed(requests, FrameType::Data);
        return;
    }
    UploadRequest* upload = live_upload(requests, prefix->request_id, FrameType::Data, DataOutOfPlace);
    if (upload == nullptr) {
        return;
    }
    const std::size_t payload = evbuffer_get_length(body.get());
    const std::uint64_t expected = upload->next_offset();
    switch (upload->accept_data(prefix->offset, payload)) {
    case UploadRequest::DataCheck::OutOfPlace:
        requests.connection().reject_connection(ErrorCode::BadFrame, DataOutOfPlace, RejectReason::Protocol);
        return;
    case UploadRequest::DataCheck::Discontinuous:
        requests.context().metrics.rejected(RejectReason::Protocol);
        requests.fail(prefix->request_id, ErrorCode::SizeMismatch,
                      "DATA at offset " + std::to_string(prefix->offset) + " (+" + std::to_string(payload) +
                          ") does not continue the upload at " + std::to_string(expected) + " of " +
                          std::to_string(upload->size()));
        return;
    case UploadRequest::DataCheck::Accepted:
        break;
    }
    requests.context().metrics.bytes_received.Increment(static_cast<double>(payload));
    requests.queued_to_disk(payload);
    const std::uint32_t request_id = prefix->request_id;
    upload->write(prefix->offset, std::move(body),
                  requests.completion().reporter<IncomingUpload::WriteResult>(
                      [request_id, payload](SessionRequests& session, const IncomingUpload::WriteResult& result) {
                          session.on_chunk_written(request_id, payload, result);
                      }));
}

} // namespace minisync::server
