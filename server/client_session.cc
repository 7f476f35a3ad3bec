// Per-connection protocol handling on the server: validate, dispatch, hand file work to strands.
#include "client_session.h"

#include "entry_ops.h"

#include "path_rules.h"
#include "protocol_codec.h"
#include "removal.h"
#include "tls_context.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <array>
#include <limits>
#include <vector>

namespace minisync::server {
namespace {

// The end of a held strand task whose upload went through prepare_commit(): the group commit takes it,
// or its error is reported at once; either way the strand resumes once the report is posted.
void commit_or_report(GroupCommitter& commits, std::shared_ptr<IncomingUpload> file, std::optional<FsError> error,
                      std::function<void(std::optional<FsError>)> report, Strand::Resume resume)
{
    if (error) {
        report(std::move(error));
        resume();
        return;
    }
    commits.submit(std::move(file), [report = std::move(report), resume = std::move(resume)](
                                        std::optional<FsError> commit_error) {
        report(std::move(commit_error));
        resume();
    });
}

using protocol::ErrorCode;
using protocol::FrameType;

constexpr std::size_t OutputLowWater = 64 * 1024;
constexpr std::size_t MaxUploadsPerConnection = 256;
// Receive-side backpressure: stop reading the socket while this much data waits for the disk.
constexpr std::size_t PauseReadingAbove = 32U << 20;
constexpr std::size_t ResumeReadingBelow = 8U << 20;
// A peer that sends requests but never reads the answers stops being read once this much waits for it.
constexpr std::size_t MaxUnreadReplies = 1U << 20;

// A certificate the server refused, or a handshake that was not TLS 1.3 or broke off.
RejectReason handshake_failure_reason(SSL* ssl, const std::string& failure)
{
    const bool certificate_refused = (ssl != nullptr && SSL_get_verify_result(ssl) != X509_V_OK) ||
                                     failure.find("certificate") != std::string::npos;
    return certificate_refused ? RejectReason::BadCert : RejectReason::BadHandshake;
}

timeval to_timeval(std::chrono::seconds duration)
{
    return timeval{static_cast<time_t>(duration.count()), 0};
}

const char* const ServerVersion = "minisync-server " MINISYNC_VERSION;

// The buffers that hold body, in order, for a write without first joining them.
std::vector<iovec> pieces_of(evbuffer* body)
{
    const int count = evbuffer_peek(body, -1, nullptr, nullptr, 0);
    std::vector<evbuffer_iovec> found(static_cast<std::size_t>(std::max(count, 0)));
    evbuffer_peek(body, -1, nullptr, found.data(), count);
    std::vector<iovec> pieces;
    pieces.reserve(found.size());
    for (const evbuffer_iovec& piece : found) {
        pieces.push_back(iovec{piece.iov_base, piece.iov_len});
    }
    return pieces;
}

} // namespace

ClientSession::ClientSession(std::uint64_t id, SessionContext& context, BufferEventPtr bev, std::string peer)
    : id_{id},
      context_{context},
      peer_{std::move(peer)},
      handshake_deadline_{evtimer_new(bufferevent_get_base(bev.get()), &ClientSession::on_handshake_deadline, this)},
      channel_{std::move(bev), *this, OutputLowWater}
{
    // A deadline for the whole handshake rather than a read timeout, which a peer trickling one byte at a
    // time would reset forever.
    const timeval deadline = to_timeval(context_.settings.handshake_timeout);
    evtimer_add(handshake_deadline_.get(), &deadline);
}

void ClientSession::on_handshake_deadline(evutil_socket_t /*fd*/, short /*what*/, void* self)
{
    auto& session = *static_cast<ClientSession*>(self);
    if (session.state_ == State::Refused || session.channel_.closing()) {
        return; // already on its way out
    }
    const std::string reason = "handshake and HELLO not finished within " +
                               std::to_string(session.context_.settings.handshake_timeout.count()) + " s";
    session.context_.metrics.rejected(RejectReason::HandshakeTimeout);
    SPDLOG_WARN("connection peer={}: {}", session.peer_, reason);
    session.state_ = State::Refused;
    session.channel_.close_after_flush(reason);
}

ClientSession::~ClientSession()
{
    if (counted_for_client_) {
        const auto it = context_.connections_per_client.find(client_);
        if (--it->second == 0) {
            context_.connections_per_client.erase(it);
        }
    }
    // Partials of interrupted uploads stay on disk: the agent resumes them on its next connection.
    for (auto& [request_id, upload] : uploads_) {
        release_locks(upload);
    }
}

void ClientSession::shutdown(const std::string& reason)
{
    channel_.close_after_flush(reason);
}

void ClientSession::on_connected()
{
    SSL* ssl = channel_.ssl();
    // From here on, a refusal is about who the client is, not about the handshake.
    state_ = State::Refused;
    if (SSL_get_verify_result(ssl) != X509_V_OK) {
        reject_connection(ErrorCode::NotAllowed, "client certificate not verified", RejectReason::BadCert);
        return;
    }
    const std::optional<std::string> cn = peer_common_name(ssl);
    if (!cn || !is_valid_client_cn(*cn)) {
        reject_connection(ErrorCode::NotAllowed, "client certificate CN is not a valid namespace name",
                          RejectReason::BadCert);
        return;
    }
    const auto& allowed = context_.settings.allow_cn;
    if (!allowed.empty() && std::find(allowed.begin(), allowed.end(), *cn) == allowed.end()) {
        reject_connection(ErrorCode::NotAllowed, "client '" + *cn + "' is not in --allow-cn",
                          RejectReason::CnNotAllowed);
        return;
    }
    std::size_t& open = context_.connections_per_client[*cn];
    if (open >= context_.settings.max_connections_per_client) {
        client_ = *cn;
        reject_connection(ErrorCode::NotAllowed,
                          "client '" + *cn + "' already has " + std::to_string(open) + " connections open",
                          RejectReason::TooManyConnections);
        return;
    }
    ++open;
    counted_for_client_ = true;
    client_ = *cn;
    state_ = State::AwaitHello;
    SPDLOG_INFO("connection peer={} client={}: TLS established", peer_, client_);
}

void ClientSession::on_frame(const protocol::FrameHeader& header, ByteBuffer&& body)
{
    dispatch(header, std::move(body));
    update_read_pause();
}

void ClientSession::on_data_frame(const protocol::FrameHeader& header, EvBufferPtr body)
{
    if (state_ != State::Ready) {
        // Out of place before HELLO: the ordinary dispatch says so.
        FrameChannel::Handler::on_data_frame(header, std::move(body));
        return;
    }
    handle_data(std::move(body));
    update_read_pause();
}

void ClientSession::on_output_low()
{
    update_read_pause();
}

void ClientSession::update_read_pause()
{
    if (channel_.closing()) {
        return;
    }
    // Hysteresis on both counts, so reading does not flap on and off around one threshold.
    const bool disk_behind = bytes_queued_to_disk_ > (read_paused_ ? ResumeReadingBelow : PauseReadingAbove);
    const bool peer_not_reading = channel_.output_size() > (read_paused_ ? OutputLowWater : MaxUnreadReplies);
    const bool pause = disk_behind || peer_not_reading;
    if (pause == read_paused_) {
        return;
    }
    read_paused_ = pause;
    if (pause) {
        channel_.pause_reading();
    } else {
        channel_.resume_reading();
    }
}

void ClientSession::dispatch(const protocol::FrameHeader& header, ByteBuffer&& body)
{
    if (state_ == State::Handshake || state_ == State::Refused) {
        return; // nothing is read before the handshake, and nothing more from a refused client
    }
    if (state_ == State::AwaitHello) {
        if (header.type != FrameType::Hello) {
            reject_connection(ErrorCode::BadFrame, std::string{"expected HELLO, got "} + to_string(header.type),
                              RejectReason::Protocol);
            return;
        }
        handle_hello(body);
        return;
    }
    switch (header.type) {
    case FrameType::UploadBegin: handle_begin(body); break;
    case FrameType::Data: break; // on_data_frame()
    case FrameType::PutFile: handle_put(std::move(body)); break;
    case FrameType::Commit: handle_commit(body); break;
    case FrameType::Abort: handle_abort(body, true); break;
    case FrameType::Suspend: handle_abort(body, false); break;
    case FrameType::Remove: handle_remove(body); break;
    case FrameType::MakeDir: handle_make_dir(body); break;
    case FrameType::MakeSymlink: handle_make_symlink(body); break;
    case FrameType::Rename: handle_rename(body); break;
    case FrameType::KeepAlive:
        if (!body.empty()) {
            reject_connection(ErrorCode::BadFrame, "KEEPALIVE has a body", RejectReason::BadFrame);
        }
        break; // its arrival has reset the idle timer
    default:
        reject_connection(ErrorCode::BadFrame,
                          "unexpected frame type " + std::to_string(static_cast<unsigned>(header.type)),
                          RejectReason::BadFrame);
        break;
    }
}

void ClientSession::on_bad_frame(const std::string& reason)
{
    reject_connection(ErrorCode::BadFrame, reason, RejectReason::BadFrame);
}

void ClientSession::on_closed(const std::string& reason)
{
    if (state_ == State::Handshake) {
        context_.metrics.rejected(handshake_failure_reason(channel_.ssl(), reason));
        SPDLOG_WARN("connection peer={}: TLS handshake failed err={}", peer_, reason);
    } else if (state_ == State::Ready && reason == FrameChannel::TimedOut) {
        context_.metrics.rejected(RejectReason::IdleTimeout);
        SPDLOG_INFO("connection peer={} client={} closed: nothing received for {} s", peer_, client_,
                    context_.settings.idle_timeout.count());
    } else {
        SPDLOG_INFO("connection peer={} client={} closed: {}", peer_, client_, reason);
    }
    context_.session_closed(id_);
}

void ClientSession::handle_hello(protocol::Bytes body)
{
    const auto hello = protocol::decode_hello(body);
    if (!hello) {
        reject_connection(ErrorCode::BadFrame, "malformed HELLO", RejectReason::BadFrame);
        return;
    }
    if (hello->max_version < protocol::MinProtocolVersion || hello->min_version > protocol::ProtocolVersion) {
        reject_connection(ErrorCode::UnsupportedVersion,
                          "server speaks protocol versions " + std::to_string(protocol::MinProtocolVersion) + "-" +
                              std::to_string(protocol::ProtocolVersion),
                          RejectReason::UnsupportedVersion);
        return;
    }
    protocol::HelloOk reply;
    reply.version = std::min(hello->max_version, protocol::ProtocolVersion);
    reply.server = ServerVersion;
    reply.client_name = client_;
    reply.idle_timeout_seconds = static_cast<std::uint32_t>(
        std::min<std::int64_t>(context_.settings.idle_timeout.count(), std::numeric_limits<std::uint32_t>::max()));
    channel_.send(protocol::encode(reply));
    state_ = State::Ready;
    evtimer_del(handshake_deadline_.get());
    // Reading is paused only while this server is behind, so a timeout is always the peer's silence.
    const timeval idle = to_timeval(context_.settings.idle_timeout);
    channel_.set_read_timeout(&idle);
    SPDLOG_INFO("connection peer={} client={}: agent '{}' ready, protocol {}", peer_, client_, hello->agent,
                reply.version);
}

bool ClientSession::is_stale(std::uint32_t request_id) const noexcept
{
    return request_id != 0 && request_id <= highest_request_id_ && !uploads_.contains(request_id);
}

ClientSession::Upload* ClientSession::live_upload(std::uint32_t request_id, FrameType frame)
{
    if (const auto it = uploads_.find(request_id); it != uploads_.end()) {
        return &it->second;
    }
    if (!is_stale(request_id)) {
        reject_connection(ErrorCode::UnknownRequest,
                          std::string{to_string(frame)} + " for unknown request " + std::to_string(request_id),
                          RejectReason::Protocol);
    }
    return nullptr;
}

std::string ClientSession::lock_key_for(const std::string& folder, const std::string& path) const
{
    std::string key = client_;
    key.append(1, '\0').append(folder).append(1, '\0').append(path);
    return key;
}

void ClientSession::release_locks(const Upload& entry)
{
    context_.path_locks.release(entry.lock_key, entry.lock_generation);
    if (!entry.second_lock_key.empty()) {
        context_.path_locks.release(entry.second_lock_key, entry.second_lock_generation);
    }
}

ClientSession::Upload* ClientSession::admit_request(std::uint32_t request_id, const std::string& folder,
                                                   const std::string& path, bool whole_tree,
                                                   const std::string* destination)
{
    if (request_id <= highest_request_id_) {
        reject_connection(ErrorCode::BadFrame, "request ids must increase", RejectReason::Protocol);
        return nullptr;
    }
    highest_request_id_ = request_id;
    if (!is_valid_folder_name(folder)) {
        context_.metrics.rejected(RejectReason::BadPath);
        fail_request(request_id, ErrorCode::BadPath, "invalid folder name");
        return nullptr;
    }
    for (const std::string* checked : {&path, destination}) {
        if (checked == nullptr) {
            continue;
        }
        if (const auto problem = check_relative_path(*checked)) {
            context_.metrics.rejected(RejectReason::BadPath);
            SPDLOG_WARN("client={} folder={}: refused a path err={}", client_, folder, *problem);
            fail_request(request_id, ErrorCode::BadPath, *problem);
            return nullptr;
        }
    }
    if (destination != nullptr &&
        (*destination == path || destination->starts_with(path + "/") || path.starts_with(*destination + "/"))) {
        // No real rename nests its paths, and the two path locks of one that did would block each other.
        fail_request(request_id, ErrorCode::BadPath, "cannot move '" + path + "' onto, into or out of itself");
        return nullptr;
    }
    if (uploads_.size() >= MaxUploadsPerConnection) {
        context_.metrics.rejected(RejectReason::TooManyUploads);
        fail_request(request_id, ErrorCode::TooManyUploads,
                     "at most " + std::to_string(MaxUploadsPerConnection) + " requests in flight per connection");
        return nullptr;
    }
    const char* const busy = "another request is writing this path or a directory around it";
    std::string lock_key = lock_key_for(folder, path);
    std::optional<PathLocks::Lease> lease = context_.path_locks.acquire(lock_key, whole_tree);
    if (!lease) {
        fail_request(request_id, ErrorCode::Busy, busy);
        return nullptr;
    }
    Upload entry;
    entry.strand = std::move(lease->strand);
    entry.lock_key = std::move(lock_key);
    entry.lock_generation = lease->generation;
    if (destination != nullptr) {
        std::string second_key = lock_key_for(folder, *destination);
        std::optional<PathLocks::Lease> second = context_.path_locks.acquire(second_key, whole_tree);
        if (!second) {
            context_.path_locks.release(entry.lock_key, entry.lock_generation);
            fail_request(request_id, ErrorCode::Busy, busy);
            return nullptr;
        }
        entry.second_lock_key = std::move(second_key);
        entry.second_lock_generation = second->generation;
        entry.run_after.push_back(std::move(second->strand));
    }
    return &uploads_.emplace(request_id, std::move(entry)).first->second;
}

void ClientSession::handle_begin(protocol::Bytes body)
{
    auto begin = protocol::decode_upload_begin(body);
    if (!begin) {
        reject_connection(ErrorCode::BadFrame, "malformed UPLOAD_BEGIN", RejectReason::BadFrame);
        return;
    }
    const std::uint32_t request_id = begin->request_id;
    Upload* upload = admit_request(request_id, begin->folder, begin->path);
    if (upload == nullptr) {
        return;
    }
    if (refused_as_too_large(request_id, begin->folder, begin->path, begin->size)) {
        return;
    }
    upload->size = begin->size;
    UploadTarget target{client_,
                        std::move(begin->folder),
                        std::move(begin->path),
                        begin->size,
                        begin->mtime_ns,
                        begin->mode,
                        begin->sha256,
                        begin->hash_if_present,
                        begin->resume_offset,
                        begin->prefix_sha256};
    upload->file = std::make_shared<IncomingUpload>(std::move(target), context_.pool.stop_requested());
    upload->strand->post([this_id = id_, &context = context_, file = upload->file, request_id] {
        IncomingUpload::OpenResult result = file->open(context.root_fd);
        context.inbox.post([this_id, &context, request_id, result = std::move(result)] {
            if (ClientSession* session = context.find_session(this_id)) {
                session->on_upload_opened(request_id, result);
            }
        });
    });
}

bool ClientSession::refused_as_too_large(std::uint32_t request_id, const std::string& folder, const std::string& path,
                                         std::uint64_t size)
{
    const auto& limit = context_.settings.max_file_size;
    if (!limit || size <= *limit) {
        return false;
    }
    context_.metrics.rejected(RejectReason::FileTooLarge);
    SPDLOG_WARN("client={} folder={} path={}: refused {} bytes, over --max-file-size {}", client_, folder, path, size,
                *limit);
    fail_request(request_id, ErrorCode::FileTooLarge,
                 "file of " + std::to_string(size) + " bytes is over the server's limit of " + std::to_string(*limit));
    return true;
}

void ClientSession::handle_put(ByteBuffer&& body)
{
    auto put = protocol::decode_put_file(body);
    if (!put) {
        reject_connection(ErrorCode::BadFrame, "malformed PUT_FILE", RejectReason::BadFrame);
        return;
    }
    const std::uint32_t request_id = put->request_id;
    Upload* upload = admit_request(request_id, put->folder, put->path);
    if (upload == nullptr) {
        return;
    }
    const std::size_t size = put->content.size();
    if (refused_as_too_large(request_id, put->folder, put->path, size)) {
        return;
    }
    const auto content_offset = static_cast<std::size_t>(put->content.data() - body.data());
    upload->size = size;
    upload->next_offset = size;
    upload->phase = Phase::Committing;
    UploadTarget target{.client = client_,
                        .folder = std::move(put->folder),
                        .path = std::move(put->path),
                        .size = size,
                        .mtime_ns = put->mtime_ns,
                        .mode = put->mode,
                        .sha256 = put->sha256};
    upload->file = std::make_shared<IncomingUpload>(std::move(target), context_.pool.stop_requested());
    context_.metrics.bytes_received.Increment(static_cast<double>(size));
    bytes_queued_to_disk_ += size;
    // One task from the frame to the group commit: a small file costs one hand-off each way, not three.
    upload->strand->post_held([this_id = id_, &context = context_, file = upload->file, request_id, size,
                               content_offset, body = std::move(body)](Strand::Resume resume) mutable {
        auto report = [this_id, &context, request_id, size](IncomingUpload::PutResult result) {
            context.inbox.post([this_id, &context, request_id, size, result = std::move(result)] {
                if (ClientSession* session = context.find_session(this_id)) {
                    session->on_put_done(request_id, size, result);
                }
            });
        };
        IncomingUpload::PutResult result = file->put(context.root_fd, std::span{body}.subspan(content_offset));
        body = {}; // written: the memory goes back now, not after the group commit
        if (result.already_had) {
            report(std::move(result));
            resume();
            return;
        }
        commit_or_report(context.commits, std::move(file), std::move(result.error),
                         [report](std::optional<FsError> error) {
                             report(IncomingUpload::PutResult{.already_had = false, .error = std::move(error)});
                         },
                         std::move(resume));
    });
}

void ClientSession::on_put_done(std::uint32_t request_id, std::size_t bytes, const IncomingUpload::PutResult& result)
{
    bytes_queued_to_disk_ -= bytes;
    update_read_pause();
    if (!uploads_.contains(request_id) || channel_.closing()) {
        return;
    }
    if (result.already_had) {
        channel_.send(protocol::encode_request_only(FrameType::AlreadyHave, request_id));
        end_request(request_id, false);
        return;
    }
    on_upload_committed(request_id, result.error);
}

void ClientSession::on_upload_opened(std::uint32_t request_id, const IncomingUpload::OpenResult& result)
{
    const auto it = uploads_.find(request_id);
    if (it == uploads_.end() || channel_.closing()) {
        return;
    }
    switch (result.outcome) {
    case IncomingUpload::OpenOutcome::AlreadyHave:
        channel_.send(protocol::encode_request_only(FrameType::AlreadyHave, request_id));
        end_request(request_id, false);
        break;
    case IncomingUpload::OpenOutcome::HashWanted:
        channel_.send(protocol::encode_request_only(FrameType::HashWanted, request_id));
        end_request(request_id, false);
        break;
    case IncomingUpload::OpenOutcome::Failed:
        SPDLOG_WARN("client={} path={}: upload refused err={}", client_, it->second.file->target().path,
                    result.error.message);
        fail_request(request_id, result.error.code, result.error.message);
        break;
    case IncomingUpload::OpenOutcome::Ready:
        it->second.phase = Phase::Receiving;
        it->second.next_offset = result.offset;
        channel_.send(protocol::encode(protocol::UploadReady{request_id, result.offset}));
        break;
    }
}

void ClientSession::handle_data(EvBufferPtr body)
{
    std::array<std::uint8_t, protocol::DataPrefixSize> raw_prefix{};
    const bool whole_prefix = evbuffer_copyout(body.get(), raw_prefix.data(), raw_prefix.size()) ==
                              static_cast<ev_ssize_t>(raw_prefix.size());
    const auto prefix = whole_prefix ? protocol::decode_data_prefix(raw_prefix) : std::nullopt;
    if (!prefix) {
        reject_connection(ErrorCode::BadFrame, "malformed DATA", RejectReason::BadFrame);
        return;
    }
    evbuffer_drain(body.get(), raw_prefix.size());
    Upload* upload = live_upload(prefix->request_id, FrameType::Data);
    if (upload == nullptr) {
        return;
    }
    const std::size_t payload = evbuffer_get_length(body.get());
    if (upload->phase != Phase::Receiving) {
        reject_connection(ErrorCode::BadFrame, "DATA before UPLOAD_READY or after COMMIT", RejectReason::Protocol);
        return;
    }
    if (prefix->offset != upload->next_offset || payload > upload->size - upload->next_offset) {
        context_.metrics.rejected(RejectReason::Protocol);
        fail_request(prefix->request_id, ErrorCode::SizeMismatch,
                     "DATA at offset " + std::to_string(prefix->offset) + " (+" + std::to_string(payload) +
                         ") does not continue the upload at " + std::to_string(upload->next_offset) + " of " +
                         std::to_string(upload->size));
        return;
    }
    upload->next_offset += payload;
    context_.metrics.bytes_received.Increment(static_cast<double>(payload));
    bytes_queued_to_disk_ += payload;
    // The body is the worker's alone from here: written from the buffers it arrived in.
    upload->strand->post([this_id = id_, &context = context_, file = upload->file, request_id = prefix->request_id,
                          offset = prefix->offset, payload, body = std::shared_ptr<evbuffer>{std::move(body)}] {
        IncomingUpload::WriteResult result = file->write(offset, pieces_of(body.get()));
        context.inbox.post([this_id, &context, request_id, payload, result = std::move(result)] {
            if (ClientSession* session = context.find_session(this_id)) {
                session->on_chunk_written(request_id, payload, result);
            }
        });
    });
}

void ClientSession::on_chunk_written(std::uint32_t request_id, std::size_t bytes,
                                     const IncomingUpload::WriteResult& result)
{
    bytes_queued_to_disk_ -= bytes;
    update_read_pause();
    if (!uploads_.contains(request_id) || channel_.closing()) {
        return;
    }
    if (result.error) {
        SPDLOG_WARN("client={}: write failed err={}", client_, result.error->message);
        fail_request(request_id, result.error->code, result.error->message);
    } else if (result.durable_offset) {
        channel_.send(protocol::encode(protocol::ProgressMsg{request_id, *result.durable_offset}));
    }
}

void ClientSession::handle_commit(protocol::Bytes body)
{
    const auto commit = protocol::decode_commit(body);
    if (!commit) {
        reject_connection(ErrorCode::BadFrame, "malformed COMMIT", RejectReason::BadFrame);
        return;
    }
    Upload* upload = live_upload(commit->request_id, FrameType::Commit);
    if (upload == nullptr) {
        return;
    }
    if (upload->phase != Phase::Receiving) {
        reject_connection(ErrorCode::BadFrame, "COMMIT before UPLOAD_READY or repeated", RejectReason::Protocol);
        return;
    }
    if (upload->next_offset != upload->size) {
        context_.metrics.rejected(RejectReason::Protocol);
        fail_request(commit->request_id, ErrorCode::SizeMismatch,
                     "COMMIT after " + std::to_string(upload->next_offset) + " of " + std::to_string(upload->size) +
                         " bytes");
        return;
    }
    upload->phase = Phase::Committing;
    upload->strand->post_held([this_id = id_, &context = context_, file = upload->file,
                               request_id = commit->request_id, digest = commit->sha256](Strand::Resume resume) {
        auto report = [this_id, &context, request_id](std::optional<FsError> error) {
            context.inbox.post([this_id, &context, request_id, error = std::move(error)] {
                if (ClientSession* session = context.find_session(this_id)) {
                    session->on_upload_committed(request_id, error);
                }
            });
        };
        std::optional<FsError> error = file->prepare_commit(digest);
        commit_or_report(context.commits, file, std::move(error), report, std::move(resume));
    });
}

void ClientSession::on_upload_committed(std::uint32_t request_id, const std::optional<FsError>& error)
{
    const auto it = uploads_.find(request_id);
    if (it == uploads_.end()) {
        return;
    }
    const UploadTarget& target = it->second.file->target();
    if (error) {
        if (error->code == ErrorCode::HashMismatch) {
            context_.metrics.hash_mismatches.Increment();
            context_.metrics.rejected(RejectReason::HashMismatch);
        }
        SPDLOG_WARN("client={} folder={} path={}: commit failed err={}", client_, target.folder, target.path,
                    error->message);
        fail_request(request_id, error->code, error->message);
        return;
    }
    context_.metrics.files_committed.Increment();
    SPDLOG_DEBUG("client={} folder={} path={}: committed {} bytes", client_, target.folder, target.path, target.size);
    channel_.send(protocol::encode_request_only(FrameType::Committed, request_id));
    end_request(request_id, false);
}

void ClientSession::handle_abort(protocol::Bytes body, bool discard_partial)
{
    const auto abort = protocol::decode_request_only(body);
    if (!abort) {
        reject_connection(ErrorCode::BadFrame, discard_partial ? "malformed ABORT" : "malformed SUSPEND",
                          RejectReason::BadFrame);
        return;
    }
    if (live_upload(abort->request_id, discard_partial ? FrameType::Abort : FrameType::Suspend) != nullptr) {
        end_request(abort->request_id, discard_partial);
    }
}

void ClientSession::handle_remove(protocol::Bytes body)
{
    auto remove = protocol::decode_remove(body);
    if (!remove) {
        reject_connection(ErrorCode::BadFrame, "malformed REMOVE", RejectReason::BadFrame);
        return;
    }
    const std::uint32_t request_id = remove->request_id;
    Upload* entry =
        admit_request(request_id, remove->folder, remove->path, remove->kind == protocol::RemoveKind::Tree);
    if (entry == nullptr) {
        return;
    }
    apply_on_strand(request_id, *entry,
                    [&context = context_, client = client_, folder = std::move(remove->folder),
                     path = std::move(remove->path), kind = remove->kind] {
                        return remove_beneath(context.root_fd, client, folder, path, kind,
                                              context.pool.stop_requested());
                    },
                    FrameType::Removed);
}

void ClientSession::handle_make_dir(protocol::Bytes body)
{
    auto msg = protocol::decode_make_dir(body);
    if (!msg) {
        reject_connection(ErrorCode::BadFrame, "malformed MAKE_DIR", RejectReason::BadFrame);
        return;
    }
    Upload* entry = admit_request(msg->request_id, msg->folder, msg->path);
    if (entry == nullptr) {
        return;
    }
    // The mtime it sets must be the last word: work still queued below (a partial being discarded after
    // an ERROR or ABORT already answered) runs first.
    entry->run_after = context_.path_locks.strands_below(entry->lock_key);
    apply_on_strand(msg->request_id, *entry,
                    [root_fd = context_.root_fd, place = EntryPlace{client_, msg->folder, msg->path},
                     mode = msg->mode, mtime = msg->mtime_ns] { return make_directory(root_fd, place, mode, mtime); },
                    FrameType::Done);
}

void ClientSession::handle_make_symlink(protocol::Bytes body)
{
    auto msg = protocol::decode_make_symlink(body);
    if (!msg) {
        reject_connection(ErrorCode::BadFrame, "malformed MAKE_SYMLINK", RejectReason::BadFrame);
        return;
    }
    Upload* entry = admit_request(msg->request_id, msg->folder, msg->path);
    if (entry == nullptr) {
        return;
    }
    if (const auto problem = check_symlink_target(msg->target)) {
        context_.metrics.rejected(RejectReason::BadPath);
        fail_request(msg->request_id, ErrorCode::BadPath, *problem);
        return;
    }
    apply_on_strand(msg->request_id, *entry,
                    [root_fd = context_.root_fd, place = EntryPlace{client_, msg->folder, msg->path},
                     target = std::move(msg->target),
                     mtime = msg->mtime_ns] { return make_symlink(root_fd, place, target, mtime); },
                    FrameType::Done);
}

void ClientSession::handle_rename(protocol::Bytes body)
{
    auto msg = protocol::decode_rename(body);
    if (!msg) {
        reject_connection(ErrorCode::BadFrame, "malformed RENAME", RejectReason::BadFrame);
        return;
    }
    Upload* entry = admit_request(msg->request_id, msg->folder, msg->from, true, &msg->to);
    if (entry == nullptr) {
        return;
    }
    apply_on_strand(msg->request_id, *entry,
                    [root_fd = context_.root_fd, from = EntryPlace{client_, msg->folder, msg->from},
                     to = std::move(msg->to)] { return rename_entry(root_fd, from, to); },
                    FrameType::Done);
}

void ClientSession::apply_on_strand(std::uint32_t request_id, Upload& entry,
                                    std::function<std::optional<FsError>()> work, FrameType reply)
{
    entry.phase = Phase::Applying;
    auto task = [this_id = id_, &context = context_, request_id, work = std::move(work), reply] {
        std::optional<FsError> error = work();
        context.inbox.post([this_id, &context, request_id, reply, error = std::move(error)] {
            if (ClientSession* session = context.find_session(this_id)) {
                session->on_applied(request_id, reply, error);
            }
        });
    };
    // The task passes through each strand it must wait for, in turn, on its way to its own.
    WorkerPool::Task step = [strand = entry.strand, task = std::move(task)]() mutable { strand->post(std::move(task)); };
    for (auto it = entry.run_after.rbegin(); it != entry.run_after.rend(); ++it) {
        step = [strand = *it, next = std::move(step)]() mutable { strand->post(std::move(next)); };
    }
    step();
}

void ClientSession::on_applied(std::uint32_t request_id, FrameType reply, const std::optional<FsError>& error)
{
    if (!uploads_.contains(request_id) || channel_.closing()) {
        return;
    }
    if (error) {
        if (error->code != ErrorCode::NotFound) {
            SPDLOG_WARN("client={}: request failed err={}", client_, error->message);
        }
        fail_request(request_id, error->code, error->message);
        return;
    }
    channel_.send(protocol::encode_request_only(reply, request_id));
    end_request(request_id, false);
}

void ClientSession::fail_request(std::uint32_t request_id, ErrorCode code, const std::string& message)
{
    if (code == ErrorCode::NoSpace) {
        context_.metrics.rejected(RejectReason::NoSpace);
    }
    channel_.send(protocol::encode(protocol::ErrorMsg{request_id, code, message}));
    end_request(request_id, true);
}

void ClientSession::end_request(std::uint32_t request_id, bool discard_partial)
{
    const auto it = uploads_.find(request_id);
    if (it == uploads_.end()) {
        return;
    }
    if (discard_partial && it->second.file) {
        it->second.strand->post([file = it->second.file] { file->discard(); });
    }
    release_locks(it->second);
    uploads_.erase(it);
    context_.memory_release.note_work();
}

void ClientSession::reject_connection(ErrorCode code, const std::string& message, RejectReason reason)
{
    if (channel_.closing()) {
        return;
    }
    context_.metrics.rejected(reason);
    SPDLOG_WARN("connection peer={} client={}: refused err={}", peer_, client_.empty() ? "-" : client_, message);
    channel_.send(protocol::encode(protocol::ErrorMsg{0, code, message}));
    channel_.close_after_flush(message);
}

} // namespace minisync::server
