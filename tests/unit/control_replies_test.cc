// Tests for control_replies.cc: reply round trips, the documented shapes and malformed replies.
#include "control_protocol.h"

#include <gtest/gtest.h>

#include <string>
#include <string_view>
#include <vector>

namespace minisync::control {
namespace {

using namespace std::string_literals;

TEST(ControlRepliesTest, ErrorReplies)
{
    EXPECT_EQ(error_reply("paused"), "{\"ok\":false,\"error\":\"paused\"}\n");
    EXPECT_EQ(unknown_folder_error("photos"), "no folder named 'photos'");
    EXPECT_LT(unknown_folder_error(std::string(100000, 'x')).size(), 300U);

    const Result<Reply> decoded = decode_reply(error_reply(unknown_folder_error("x\"y")));
    ASSERT_TRUE(decoded.ok());
    EXPECT_FALSE(decoded.value().ok);
    EXPECT_EQ(decoded.value().error, "no folder named 'x\"y'");

    // Invalid UTF-8 in a message is replaced, never thrown on.
    const std::string bad = error_reply("couldn't open 'caf\xe9'");
    const Result<Reply> replaced = decode_reply(bad);
    ASSERT_TRUE(replaced.ok());
    EXPECT_EQ(replaced.value().error, "couldn't open 'caf\xef\xbf\xbd'");
}

StatusReply sample_status()
{
    StatusReply status;
    status.version = "0.1.0";
    status.uptime_seconds = 11520;
    status.state = DaemonState::Running;
    status.connected = true;
    status.server = "backup.example.org:7443";
    status.queue_depth = 12;
    status.inflight = {{"photos/2024/img001.jpg", 12582912, 27787264}, {"docs/a b.txt", 0, 0}};
    status.files_synced = 1234;
    status.bytes_sent = 5690831667ULL;
    status.last_error = "couldn't read 'docs/x': Permission denied (13)";
    status.folders = {{"photos", "/home/u/Pictures", false, 10, std::nullopt, "syncing"},
                      {"docs", "/home/u/Documents", true, 2, "couldn't watch: No space left on device (28)", "paused"}};
    return status;
}

StatusReply decoded_status(const std::string& line)
{
    Result<StatusReply> result = decode_status(line);
    if (!result.ok()) {
        ADD_FAILURE() << "couldn't decode " << line << ": " << result.error().message;
        return {};
    }
    return result.value();
}

TEST(ControlRepliesTest, StatusRoundTrip)
{
    const StatusReply status = sample_status();
    const std::string line = encode_status(status);
    EXPECT_EQ(line.back(), '\n');
    EXPECT_EQ(line.find('\n'), line.size() - 1);
    EXPECT_EQ(decoded_status(line), status);

    StatusReply idle;
    idle.state = DaemonState::Paused;
    idle.server = "127.0.0.1:7443";
    EXPECT_EQ(decoded_status(encode_status(idle)), idle);
}

TEST(ControlRepliesTest, StatusCarriesEverySpecField)
{
    const Result<Reply> reply = decode_reply(encode_status(sample_status()));
    ASSERT_TRUE(reply.ok());
    const nlohmann::json& body = reply.value().body;
    EXPECT_EQ(body["ok"], true);
    EXPECT_EQ(body["state"], "running");
    EXPECT_EQ(body["connected"], true);
    EXPECT_EQ(body["server"], "backup.example.org:7443");
    EXPECT_EQ(body["queue_depth"], 12);
    EXPECT_EQ(body["inflight"][0]["path"], "photos/2024/img001.jpg");
    EXPECT_EQ(body["inflight"][0]["offset"], 12582912);
    EXPECT_EQ(body["inflight"][0]["size"], 27787264);
    EXPECT_EQ(body["files_synced"], 1234);
    EXPECT_EQ(body["bytes_sent"], 5690831667ULL);
    EXPECT_TRUE(body["last_error"].is_string());
    EXPECT_EQ(body["folders"][0]["name"], "photos");
    EXPECT_EQ(body["folders"][0]["path"], "/home/u/Pictures");
    EXPECT_EQ(body["folders"][0]["paused"], false);
    EXPECT_EQ(body["folders"][0]["pending"], 10);
    EXPECT_TRUE(body["folders"][0]["error"].is_null());
    EXPECT_EQ(body["version"], "0.1.0");
    EXPECT_EQ(body["uptime_seconds"], 11520);

    StatusReply clean = sample_status();
    clean.last_error.reset();
    const std::string line = encode_status(clean);
    EXPECT_NE(line.find("\"last_error\":null"), std::string::npos) << line;
}

// Paths are bytes; JSON strings are UTF-8. Each invalid sequence becomes U+FFFD (EF BF BD) rather than
// making the encoder throw.
TEST(ControlRepliesTest, NonUtf8PathsBecomeReplacementCharacters)
{
    StatusReply status = sample_status();
    status.inflight = {{"photos/caf\xe9.jpg", 1, 2}};
    status.folders[0].path = "/home/u/\xff\xfe";
    status.folders[0].name = "ok\xc3\xa9"; // valid UTF-8 survives unchanged
    status.last_error = "couldn't open 'photos/\xe2\x82'"; // cut short
    const std::string line = encode_status(status);
    const StatusReply decoded = decoded_status(line);
    ASSERT_EQ(decoded.inflight.size(), 1U);
    EXPECT_EQ(decoded.inflight[0].path, "photos/caf\xef\xbf\xbd.jpg");
    EXPECT_EQ(decoded.folders[0].path, "/home/u/\xef\xbf\xbd\xef\xbf\xbd");
    EXPECT_EQ(decoded.folders[0].name, "ok\xc3\xa9");
    EXPECT_EQ(decoded.last_error, "couldn't open 'photos/\xef\xbf\xbd'");

    // Control characters in a path are escaped, so the reply stays one line.
    status.inflight = {{"photos/new\nline\x01", 0, 0}};
    const std::string escaped = encode_status(status);
    EXPECT_EQ(escaped.find('\n'), escaped.size() - 1);
    EXPECT_EQ(decoded_status(escaped).inflight[0].path, "photos/new\nline\x01");
}

TEST(ControlRepliesTest, DecodeStatusRefusesMalformedReplies)
{
    const auto refused = [](std::string_view line) {
        Result<StatusReply> result = decode_status(line);
        if (result.ok()) {
            ADD_FAILURE() << "accepted " << line;
            return std::string{};
        }
        return result.error().message;
    };
    EXPECT_NE(refused(""), "");
    EXPECT_NE(refused("not json"), "");
    EXPECT_NE(refused("[1]"), "");
    EXPECT_NE(refused(R"({"state":"running"})"), "");     // no "ok"
    EXPECT_EQ(refused(R"({"ok":false,"error":"boom"})"), "boom"); // the daemon's own error
    EXPECT_NE(refused(R"({"ok":false})"), "");
    EXPECT_NE(refused(R"({"ok":true})").find("missing field 'version'"), std::string::npos);

    nlohmann::json body = nlohmann::json::parse(encode_status(sample_status()));
    const auto with = [&](const char* pointer, nlohmann::json value) {
        nlohmann::json copy = body;
        copy[nlohmann::json::json_pointer{pointer}] = std::move(value);
        return refused(copy.dump());
    };
    const auto without = [&](const char* pointer) {
        nlohmann::json copy = body;
        const nlohmann::json::json_pointer ptr{pointer};
        copy[ptr.parent_pointer()].erase(ptr.back());
        return refused(copy.dump());
    };
    EXPECT_NE(with("/state", "stopped").find("'state'"), std::string::npos);
    EXPECT_NE(with("/queue_depth", -1).find("'queue_depth'"), std::string::npos);
    EXPECT_NE(with("/queue_depth", 1.5), "");
    EXPECT_NE(with("/queue_depth", "12"), "");
    EXPECT_NE(with("/connected", 1), "");
    EXPECT_NE(with("/last_error", 5), "");
    EXPECT_NE(with("/inflight", nlohmann::json::object()), "");
    EXPECT_NE(with("/inflight/0", "x").find("'inflight[0]'"), std::string::npos);
    EXPECT_NE(with("/inflight/1/size", true).find("'inflight[1].size'"), std::string::npos);
    EXPECT_NE(with("/folders/1/paused", "no").find("'folders[1].paused'"), std::string::npos);
    EXPECT_NE(without("/folders/0/pending").find("missing field 'folders[0].pending'"), std::string::npos);
    EXPECT_NE(without("/folders/1/error"), "");
    EXPECT_NE(without("/server"), "");
    EXPECT_NE(without("/uptime_seconds"), "");

    // Fields a later daemon adds are ignored.
    body["throughput"] = 5;
    body["folders"][0]["watches"] = 3;
    EXPECT_EQ(decoded_status(body.dump()), sample_status());
}

TEST(ControlRepliesTest, OverallState)
{
    std::vector<FolderStatus> folders;
    EXPECT_EQ(overall_state(folders), DaemonState::Running);
    folders.push_back({"a", "/a", true, 0, std::nullopt, "paused"});
    EXPECT_EQ(overall_state(folders), DaemonState::Paused);
    folders.push_back({"b", "/b", false, 0, std::nullopt, "idle"});
    EXPECT_EQ(overall_state(folders), DaemonState::Running);
    folders[1].paused = true;
    EXPECT_EQ(overall_state(folders), DaemonState::Paused);
}

FoldersReply decoded_folders(const std::string& line)
{
    Result<Reply> reply = decode_reply(line);
    if (!reply.ok()) {
        ADD_FAILURE() << reply.error().message;
        return {};
    }
    EXPECT_TRUE(reply.value().ok);
    Result<FoldersReply> result = decode_folders_body(reply.value().body);
    if (!result.ok()) {
        ADD_FAILURE() << result.error().message;
        return {};
    }
    return result.value();
}

TEST(ControlRepliesTest, FoldersRoundTrip)
{
    const FoldersReply two{{"photos", "docs"}, std::nullopt};
    EXPECT_EQ(encode_folders(two), "{\"ok\":true,\"folders\":[\"photos\",\"docs\"]}\n");
    EXPECT_EQ(decoded_folders(encode_folders(two)), two);

    const FoldersReply waited{{"docs"}, 3};
    EXPECT_EQ(encode_folders(waited), "{\"ok\":true,\"folders\":[\"docs\"],\"failed\":3}\n");
    EXPECT_EQ(decoded_folders(encode_folders(waited)), waited);

    const FoldersReply none{{}, 0};
    EXPECT_EQ(decoded_folders(encode_folders(none)), none);

    // The whole-line decoder: ok:false is a failure carrying the daemon's text.
    const Result<FoldersReply> line = decode_folders(encode_folders(waited));
    ASSERT_TRUE(line.ok());
    EXPECT_EQ(line.value(), waited);
    const Result<FoldersReply> paused = decode_folders(error_reply(PausedError));
    ASSERT_FALSE(paused.ok());
    EXPECT_EQ(paused.error().code, ErrorCode::Refused);
    EXPECT_EQ(paused.error().message, "paused");
    EXPECT_FALSE(decode_folders("{\"ok\":true}").ok());

    const FoldersReply odd{{"caf\xe9"}, std::nullopt};
    EXPECT_EQ(decoded_folders(encode_folders(odd)).folders, std::vector<std::string>{"caf\xef\xbf\xbd"});
}

TEST(ControlRepliesTest, DecodeFoldersRefusesMalformedBodies)
{
    const auto refused = [](const char* text) {
        const Result<FoldersReply> result = decode_folders_body(nlohmann::json::parse(text));
        return !result.ok();
    };
    EXPECT_TRUE(refused(R"({"ok":true})"));
    EXPECT_TRUE(refused(R"({"ok":true,"folders":"a"})"));
    EXPECT_TRUE(refused(R"({"ok":true,"folders":[1]})"));
    EXPECT_TRUE(refused(R"({"ok":true,"folders":[],"failed":-1})"));
    EXPECT_TRUE(refused(R"({"ok":true,"folders":[],"failed":"2"})"));
    EXPECT_TRUE(refused("[]"));
    EXPECT_FALSE(refused(R"({"ok":true,"folders":[],"extra":{}})"));
}

TEST(ControlRepliesTest, DecodeReplyNeverThrows)
{
    for (const std::string& line :
         {""s, "\n"s, "{"s, "}"s, "[]"s, "null"s, "{\"ok\":1}"s, "{\"ok\":\"true\"}"s, "\xff"s, "{\"ok\":true,\"x\":\"\xff\"}"s,
          std::string(100000, '['), "{\"ok\":true,\"n\":1e400}"s, "{\"ok\":true}\0junk"s}) {
        EXPECT_FALSE(decode_reply(line).ok()) << line.substr(0, 40);
    }
    const Result<Reply> no_message = decode_reply(R"({"ok":false})");
    ASSERT_TRUE(no_message.ok());
    EXPECT_FALSE(no_message.value().error.empty());
}

} // namespace
} // namespace minisync::control
