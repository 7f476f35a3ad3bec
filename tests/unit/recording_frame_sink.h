// A FrameSink that keeps what a request sends, decoded far enough to assert on: the frame type and its body.
#pragma once

#include "frame_sink.h"
#include "protocol_codec.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <vector>

namespace minisync::agent::testing {

struct SentFrame {
    protocol::FrameType type{};
    std::vector<std::uint8_t> body; // DATA: the payload only
    std::uint64_t data_offset = 0;  // DATA only
    std::uint32_t data_request = 0; // DATA only
};

class RecordingFrameSink final : public FrameSink {
public:
    void send(std::span<const std::uint8_t> frame) override
    {
        const protocol::HeaderResult parsed = protocol::decode_frame_header(frame);
        ASSERT_EQ(parsed.status, protocol::HeaderStatus::Ok);
        ASSERT_EQ(frame.size(), protocol::FrameHeaderSize + parsed.header.body_size);
        frames.push_back(SentFrame{parsed.header.type,
                                   std::vector<std::uint8_t>(frame.begin() + protocol::FrameHeaderSize, frame.end())});
    }

    void send_data(const protocol::DataPrefix& prefix, ByteBuffer&& payload) override
    {
        frames.push_back(SentFrame{protocol::FrameType::Data,
                                   std::vector<std::uint8_t>(payload.data(), payload.data() + payload.size()),
                                   prefix.offset, prefix.request_id});
    }

    // The types sent, in order.
    [[nodiscard]] std::vector<protocol::FrameType> types() const
    {
        std::vector<protocol::FrameType> types;
        for (const SentFrame& frame : frames) {
            types.push_back(frame.type);
        }
        return types;
    }

    std::vector<SentFrame> frames;
};

} // namespace minisync::agent::testing
