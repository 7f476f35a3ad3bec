// The agent facing a server that breaks the protocol: a reply its request cannot take in its state, or a
// reply to a request never sent, is a protocol error. The agent counts it, resets the connection, and
// sends the request again on the next one; nothing is recorded as synced on the strength of a bad reply.
#include "metrics_scrape.h"
#include "minisync_fixture.h"
#include "protocol_codec.h"
#include "raw_server.h"
#include "test_files.h"
#include "wait_for.h"

#include <gtest/gtest.h>

namespace minisync::test {
namespace {

using namespace std::chrono_literals;
using protocol::FrameType;

class HostileServerTest : public FolderTest {
protected:
    // The next PUT_FILE the agent sends on the connection, skipping anything else.
    static protocol::PutFile next_put(RawConnection& connection, std::vector<std::uint8_t>& body)
    {
        while (true) {
            ReadResult read = connection.read_frame(10s);
            if (read.status != ReadStatus::Frame) {
                throw std::runtime_error("no PUT_FILE from the agent: " + read.detail);
            }
            if (read.frame.type == FrameType::PutFile) {
                body = std::move(read.frame.body);
                const auto put = protocol::decode_put_file(body);
                if (!put) {
                    throw std::runtime_error("malformed PUT_FILE");
                }
                return *put;
            }
        }
    }

    double protocol_errors(const ChildProcess& agent)
    {
        return sample_value(agent, "minisync_errors_total{kind=\"protocol\"}");
    }

    // An agent with one small file to send, greeted by the stand-in server: the PUT_FILE it sends first.
    protocol::PutFile start_with_a_file(RawServer& server, std::unique_ptr<RawAgentConnection>& connection)
    {
        write_file(src_ / "small.txt", "hello\n");
        agent_ = &start_agent_for(server.port(), {src_.string()}, {"--metrics", "127.0.0.1:0"});
        connection = server.accept(10s);
        connection->greet();
        return next_put(*connection, put_body_);
    }

    ChildProcess* agent_ = nullptr;
    std::vector<std::uint8_t> put_body_; // what the latest PUT_FILE decoded from
};

TEST_F(HostileServerTest, AReplyTheRequestCannotTakeInItsStateResetsTheConnectionAndTheRequestIsSentAgain)
{
    RawServer server{pki().server()};
    std::unique_ptr<RawAgentConnection> first;
    const protocol::PutFile put = start_with_a_file(server, first);
    ChildProcess& agent = *agent_;
    EXPECT_EQ(put.path, "small.txt");
    // UPLOAD_READY answers UPLOAD_BEGIN, never a PUT_FILE.
    ASSERT_TRUE(first->send(protocol::encode(protocol::UploadReady{put.request_id, 0})));
    EXPECT_TRUE(first->wait_closed(10s)) << "the agent kept a connection that broke the protocol";
    EXPECT_TRUE(wait_for([&] { return protocol_errors(agent) == 1; }, 10s)) << agent.log_text();

    auto second = server.accept(15s);
    second->greet();
    const protocol::PutFile again = next_put(*second, put_body_);
    EXPECT_EQ(again.path, "small.txt");
    ASSERT_TRUE(second->send(protocol::encode_request_only(FrameType::Committed, again.request_id)));
    EXPECT_TRUE(wait_for([&] { return sample_value(agent, "minisync_files_synced_total") == 1; }, 10s))
        << agent.log_text();
    EXPECT_EQ(protocol_errors(agent), 1);
}

TEST_F(HostileServerTest, AReplyToARequestNeverSentResetsTheConnection)
{
    RawServer server{pki().server()};
    std::unique_ptr<RawAgentConnection> first;
    const protocol::PutFile put = start_with_a_file(server, first);
    ChildProcess& agent = *agent_;
    ASSERT_TRUE(first->send(protocol::encode_request_only(FrameType::Committed, put.request_id + 1000)));
    EXPECT_TRUE(first->wait_closed(10s)) << "the agent kept a connection that broke the protocol";
    EXPECT_TRUE(wait_for([&] { return protocol_errors(agent) == 1; }, 10s)) << agent.log_text();
    EXPECT_EQ(sample_value(agent, "minisync_files_synced_total"), 0) << "a bad reply counted as a sync";
}

TEST_F(HostileServerTest, AFrameThatIsNoReplyResetsTheConnection)
{
    RawServer server{pki().server()};
    ChildProcess& agent = start_agent_for(server.port(), {src_.string()}, {"--metrics", "127.0.0.1:0"});

    auto first = server.accept(10s);
    first->greet();
    ASSERT_TRUE(first->send(protocol::encode(protocol::HelloOk{})));
    EXPECT_TRUE(first->wait_closed(10s)) << "the agent kept a connection that broke the protocol";
    EXPECT_TRUE(wait_for([&] { return protocol_errors(agent) == 1; }, 10s)) << agent.log_text();
    // And it comes back.
    auto second = server.accept(15s);
    second->greet();
}

} // namespace
} // namespace minisync::test
