// Tests for control_replies.cc: reply round trips, the documented shapes and malformed replies.
#include "control_protocol.h"

#include <gtest/gtest.h>

#include <string>
#include <string_view>
#include <variant>
#include <vector>

namespace minisync::control {
namespace {

using namespace std::string_literals;

TEST(ControlRepliesTest, ErrorReplies)
{
    EXPECT_EQ(error_reply("paused"), "{\"ok\":false,\"error\":\"paused\"}\n");
    EXPECT_EQ(unknown_folder_error("photos"), "no folder named 'photos'");
    EXPECT_LT(unknown_folder_error(std::string(100000, 'x')).size(), 300U);

    const std::variant<Reply, std::string> decoded = decode_reply(error_reply(unknown_folder_error("x\"y")));
    ASSERT_TRUE(std::holds_alternative<Reply>(decoded));
    EXPECT_FALSE(std::get<Reply>(decoded).ok);
    EXPECT_EQ(std::get<Reply>(decoded).error, "no folder named 'x\"y'");

    // Invalid UTF-8 in a message is replaced, never thrown on.
    const std::string bad = error_reply("couldn't open 'caf\xe9'");
    const std::variant<Reply, std::string> replaced = decode_reply(bad);
    ASSERT_TRUE(std::holds_alternative<Reply>(replaced));
    EXPECT_EQ(std::get<Reply>(replaced).error, "couldn't open 'caf\xef\xbf\xbd'");
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
    status.folders = {{"photos", "/home/u/Pictures", false, 10, std::nullopt},
                      {"docs", "/home/u/Documents", true, 2, "couldn't watch: No space left on device (28)"}};
    return status;
}

StatusReply decoded_status(const std::string& line)
{
    std::variant<StatusReply, std::string> result = decode_status(line);
    if (const auto* error = std::get_if<std::string>(&result)) {
        ADD_FAILURE() << "couldn't decode " << line << ": " << *error;
        return {};
    }
    return std::get<StatusReply>(result);
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
    const std::variant<Reply, std::string> reply = decode_reply(encode_status(sample_status()));
    ASSERT_TRUE(std::holds_alternative<Reply>(reply));
    const nlohmann::json& body = std::get<Reply>(reply).body;
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
        std::variant<StatusReply, std::string> result = decode_status(line);
        if (std::holds_alternative<StatusReply>(result)) {
            ADD_FAILURE() << "accepted " << line;
            return std::string{};
        }
        return std::get<std::string>(result);
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
    folders.push_back({"a", "/a", true, 0, std::nullopt});
    EXPECT_EQ(overall_state(folders), DaemonState::Paused);
    folders.push_back({"b", "/b", false, 0, std::nullopt});
    EXPECT_EQ(overall_state(folders), DaemonState::Running);
    folders[1].paused = true;
    EXPECT_EQ(overall_state(folders), DaemonState::Paused);
}

FoldersReply decoded_folders(const std::string& line)
{
    std::variant<Reply, std::string> reply = decode_reply(line);
    if (const auto* error = std::get_if<std::string>(&reply)) {
        ADD_FAILURE() << *error;
        return {};
    }
    EXPECT_TRUE(std::get<Reply>(reply).ok);
    std::variant<FoldersReply, std::string> result = decode_folders_body(std::get<Reply>(reply).body);
    if (const auto* error = std::get_if<std::string>(&result)) {
        ADD_FAILURE() << *error;
        return {};
    }
    return std::get<FoldersReply>(result);
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
    const std::variant<FoldersReply, std::string> line = decode_folders(encode_folders(waited));
    ASSERT_TRUE(std::holds_alternative<FoldersReply>(line));
    EXPECT_EQ(std::get<FoldersReply>(line), waited);
    const std::variant<FoldersReply, std::string> paused = decode_folders(error_reply(PausedError));
    ASSERT_TRUE(std::holds_alternative<std::string>(paused));
    EXPECT_EQ(std::get<std::string>(paused), "paused");
    EXPECT_TRUE(std::holds_alternative<std::string>(decode_folders("{\"ok\":true}")));

    const FoldersReply odd{{"caf\xe9"}, std::nullopt};
    EXPECT_EQ(decoded_folders(encode_folders(odd)).folders, std::vector<std::string>{"caf\xef\xbf\xbd"});
}

TEST(ControlRepliesTest, DecodeFoldersRefusesMalformedBodies)
{
    const auto refused = [](const char* text) {
        const std::variant<FoldersReply, std::string> result = decode_folders_body(nlohmann::json::parse(text));
        return std::holds_alternative<std::string>(result);
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
        EXPECT_TRUE(std::holds_alternative<std::string>(decode_reply(line))) << line.substr(0, 40);
    }
    const std::variant<Reply, std::string> no_message = decode_reply(R"({"ok":false})");
    ASSERT_TRUE(std::holds_alternative<Reply>(no_message));
    EXPECT_FALSE(std::get<Reply>(no_message).error.empty());
}

} // namespace
} // namespace minisync::control
