// Decoding of the server's replies and the one-answer request's transitions.
#include "request.h"

namespace minisync::agent {

using protocol::FrameType;

std::optional<ServerReply> decode_reply(const protocol::FrameHeader& header, protocol::Bytes body)
{
    ServerReply reply;
    reply.type = header.type;
    switch (header.type) {
    case FrameType::UploadReady: {
        const auto ready = protocol::decode_upload_ready(body);
        if (!ready) return std::nullopt;
        reply.request_id = ready->request_id;
        reply.offset = ready->offset;
        return reply;
    }
    case FrameType::Progress: {
        const auto progress = protocol::decode_progress(body);
        if (!progress) return std::nullopt;
        reply.request_id = progress->request_id;
        reply.offset = progress->durable_offset;
        return reply;
    }
    case FrameType::Error: {
        auto error = protocol::decode_error(body);
        if (!error) return std::nullopt;
        reply.request_id = error->request_id;
        reply.code = error->code;
        reply.message = std::move(error->message);
        return reply;
    }
    case FrameType::AlreadyHave:
    case FrameType::Committed:
    case FrameType::Removed:
    case FrameType::Done:
    case FrameType::HashWanted: {
        const auto answer = protocol::decode_request_only(body);
        if (!answer) return std::nullopt;
        reply.request_id = answer->request_id;
        return reply;
    }
    default: return std::nullopt;
    }
}

Outcome Request::refused(const ServerReply& reply)
{
    error_ = Error{reply.code, reply.message};
    return Outcome::Refused;
}

OneAnswerRequest::OneAnswerRequest(FrameSink& sink, std::uint32_t id, std::span<const std::uint8_t> frame,
                                   FrameType answer)
    : Request{sink, id}, answer_{answer}
{
    sink_.send(frame);
}

Outcome OneAnswerRequest::on_reply(const ServerReply& reply)
{
    if (state_ != State::Sent || (reply.type != answer_ && reply.type != FrameType::Error)) {
        return Outcome::Invalid;
    }
    state_ = State::Answered;
    return reply.type == answer_ ? Outcome::Acknowledged : refused(reply);
}

const char* OneAnswerRequest::state_name() const noexcept
{
    return state_ == State::Sent ? "sent" : "answered";
}

} // namespace minisync::agent
