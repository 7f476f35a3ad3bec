// Admission and endings of a connection's requests, and the worker results that end them.
#include "session_requests.h"

#include "path_rules.h"
#include "protocol_codec.h"
#include "put_file_request.h"
#include "upload_request.h"

#include <spdlog/spdlog.h>

namespace minisync::server {

using protocol::ErrorCode;
using protocol::FrameType;

std::optional<Admission> SessionRequests::take_place(const Place& place)
{
    const std::uint32_t request_id = place.request_id;
    if (!requests_.claim_id(request_id)) {
        connection_.reject_connection(ErrorCode::BadFrame, "request ids must increase", RejectReason::Protocol);
        return std::nullopt;
    }
    if (!is_valid_folder_name(place.folder)) {
        context_.metrics.rejected(RejectReason::BadPath);
        fail(request_id, ErrorCode::BadPath, "invalid folder name");
        return std::nullopt;
    }
    for (const std::string* checked : {&place.path, place.destination}) {
        if (checked == nullptr) {
            continue;
        }
        if (const auto problem = check_relative_path(*checked)) {
            context_.metrics.rejected(RejectReason::BadPath);
            SPDLOG_WARN("client={} folder={}: refused a path err={}", client_, place.folder, *problem);
            fail(request_id, ErrorCode::BadPath, *problem);
            return std::nullopt;
        }
    }
    const std::string& path = place.path;
    if (const std::string* destination = place.destination;
        destination != nullptr &&
        (*destination == path || destination->starts_with(path + "/") || path.starts_with(*destination + "/"))) {
        // No real rename nests its paths, and the two path locks of one that did would block each other.
        fail(request_id, ErrorCode::BadPath, "cannot move '" + path + "' onto, into or out of itself");
        return std::nullopt;
    }
    if (requests_.full()) {
        context_.metrics.rejected(RejectReason::TooManyUploads);
        fail(request_id, ErrorCode::TooManyUploads,
             "at most " + std::to_string(RequestTable::MaxRequests) + " requests in flight per connection");
        return std::nullopt;
    }
    const char* const busy = "another request is writing this path or a directory around it";
    std::optional<HeldPath> held =
        HeldPath::acquire(context_.path_locks, lock_key_for(place.folder, path), place.whole_tree);
    if (!held) {
        fail(request_id, ErrorCode::Busy, busy);
        return std::nullopt;
    }
    std::optional<HeldPath> destination;
    if (place.destination != nullptr) {
        destination =
            HeldPath::acquire(context_.path_locks, lock_key_for(place.folder, *place.destination), place.whole_tree);
        if (!destination) {
            held.reset(); // unlocked before the answer, as every refused request is
            fail(request_id, ErrorCode::Busy, busy);
            return std::nullopt;
        }
    }
    return Admission{std::move(*held), std::move(destination)};
}

std::string SessionRequests::lock_key_for(const std::string& folder, const std::string& path) const
{
    std::string key = client_;
    key.append(1, '\0').append(folder).append(1, '\0').append(path);
    return key;
}

bool SessionRequests::refused_as_too_large(std::uint32_t request_id, const std::string& folder,
                                           const std::string& path, std::uint64_t size)
{
    const auto& limit = context_.settings.max_file_size;
    if (!limit || size <= *limit) {
        return false;
    }
    context_.metrics.rejected(RejectReason::FileTooLarge);
    SPDLOG_WARN("client={} folder={} path={}: refused {} bytes, over --max-file-size {}", client_, folder, path, size,
                *limit);
    fail(request_id, ErrorCode::FileTooLarge,
         "file of " + std::to_string(size) + " bytes is over the server's limit of " + std::to_string(*limit));
    return true;
}

std::optional<ClientUploads::Slot> SessionRequests::take_upload_slot(std::uint32_t request_id,
                                                                    const std::string& folder,
                                                                    const std::string& path)
{
    ClientUploads& uploads = context_.uploads;
    ClientUploads::Slot slot;
    const ClientUploads::Verdict verdict = uploads.take(client_, slot);
    if (verdict == ClientUploads::Verdict::Taken) {
        return slot;
    }
    context_.metrics.rejected(RejectReason::TooManyOpenUploads);
    const std::string why =
        verdict == ClientUploads::Verdict::ClientFull
            ? "client '" + client_ + "' already has " + std::to_string(uploads.per_client_limit()) +
                  " uploads open (--max-open-uploads-per-client)"
            : "the server already has " + std::to_string(uploads.limit()) + " uploads open (--max-open-uploads)";
    SPDLOG_DEBUG("client={} folder={} path={}: busy err={}", client_, folder, path, why);
    fail(request_id, ErrorCode::Busy, why + "; try again later");
    return std::nullopt;
}

ClientRequest* SessionRequests::live(std::uint32_t request_id, FrameType frame)
{
    if (ClientRequest* request = requests_.find(request_id)) {
        return request;
    }
    if (!requests_.is_stale(request_id)) {
        connection_.reject_connection(ErrorCode::UnknownRequest,
                                      std::string{to_string(frame)} + " for unknown request " +
                                          std::to_string(request_id),
                                      RejectReason::Protocol);
    }
    return nullptr;
}

void SessionRequests::fail(std::uint32_t request_id, ErrorCode code, const std::string& message)
{
    if (code == ErrorCode::NoSpace) {
        context_.metrics.rejected(RejectReason::NoSpace);
    }
    connection_.send(protocol::encode(protocol::ErrorMsg{request_id, code, message}));
    end(request_id, true);
}

void SessionRequests::end(std::uint32_t request_id, bool discard_partial)
{
    ClientRequestPtr request = requests_.remove(request_id);
    if (!request) {
        return;
    }
    if (discard_partial) {
        request->discard_partial();
    }
    request.reset(); // its path locks go now, after the discarding queued on their strand
    context_.memory_release.note_work();
}

void SessionRequests::on_upload_opened(std::uint32_t request_id, const IncomingUpload::OpenResult& result)
{
    UploadRequest* upload = live_as<UploadRequest>(request_id);
    if (upload == nullptr || connection_.closing()) {
        return;
    }
    switch (result.outcome) {
    case IncomingUpload::OpenOutcome::AlreadyHave:
        connection_.send(protocol::encode_request_only(FrameType::AlreadyHave, request_id));
        end(request_id, false);
        break;
    case IncomingUpload::OpenOutcome::HashWanted:
        connection_.send(protocol::encode_request_only(FrameType::HashWanted, request_id));
        end(request_id, false);
        break;
    case IncomingUpload::OpenOutcome::Failed:
        SPDLOG_WARN("client={} path={}: upload refused err={}", client_, upload->target().path, result.error.message);
        fail(request_id, result.error.code, result.error.message);
        break;
    case IncomingUpload::OpenOutcome::Ready:
        upload->opened(result.offset);
        connection_.send(protocol::encode(protocol::UploadReady{request_id, result.offset}));
        break;
    }
}

void SessionRequests::on_chunk_written(std::uint32_t request_id, std::size_t bytes,
                                       const IncomingUpload::WriteResult& result)
{
    bytes_queued_to_disk_ -= bytes;
    connection_.disk_caught_up();
    if (!requests_.contains(request_id) || connection_.closing()) {
        return;
    }
    if (result.error) {
        SPDLOG_WARN("client={}: write failed err={}", client_, result.error->message);
        fail(request_id, result.error->code, result.error->message);
    } else if (result.durable_offset) {
        connection_.send(protocol::encode(protocol::ProgressMsg{request_id, *result.durable_offset}));
    }
}

void SessionRequests::on_upload_committed(std::uint32_t request_id, const Result<void>& committed)
{
    if (const UploadRequest* upload = live_as<UploadRequest>(request_id)) {
        report_commit(request_id, upload->target(), committed);
    }
}

void SessionRequests::report_commit(std::uint32_t request_id, const UploadTarget& target,
                                    const Result<void>& committed)
{
    if (!committed.ok()) {
        const Error& error = committed.error();
        if (error.code == ErrorCode::HashMismatch) {
            context_.metrics.hash_mismatches.Increment();
            context_.metrics.rejected(RejectReason::HashMismatch);
        }
        SPDLOG_WARN("client={} folder={} path={}: commit failed err={}", client_, target.folder, target.path,
                    error.message);
        fail(request_id, error.code, error.message);
        return;
    }
    context_.metrics.files_committed.Increment();
    SPDLOG_DEBUG("client={} folder={} path={}: committed {} bytes", client_, target.folder, target.path, target.size);
    connection_.send(protocol::encode_request_only(FrameType::Committed, request_id));
    end(request_id, false);
}

void SessionRequests::on_put_done(std::uint32_t request_id, std::size_t bytes, const IncomingUpload::PutResult& result)
{
    bytes_queued_to_disk_ -= bytes;
    connection_.disk_caught_up();
    const PutFileRequest* put = live_as<PutFileRequest>(request_id);
    if (put == nullptr || connection_.closing()) {
        return;
    }
    if (result.already_had) {
        connection_.send(protocol::encode_request_only(FrameType::AlreadyHave, request_id));
        end(request_id, false);
        return;
    }
    report_commit(request_id, put->target(), result.stored);
}

void SessionRequests::on_applied(std::uint32_t request_id, FrameType reply, const Result<void>& applied)
{
    if (!requests_.contains(request_id) || connection_.closing()) {
        return;
    }
    if (!applied.ok()) {
        const Error& error = applied.error();
        if (error.code != ErrorCode::NotFound) {
            SPDLOG_WARN("client={}: request failed err={}", client_, error.message);
        }
        fail(request_id, error.code, error.message);
        return;
    }
    connection_.send(protocol::encode_request_only(reply, request_id));
    end(request_id, false);
}

} // namespace minisync::server
