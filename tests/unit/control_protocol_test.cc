// Tests for the control protocol: request validation, reply round trips, line framing, socket path rule.
#include "control_protocol.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdlib>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

namespace minisync::control {
namespace {

using namespace std::string_literals;

Request parsed(std::string_view line)
{
    std::variant<Request, std::string> result = parse_request(line);
    if (const auto* error = std::get_if<std::string>(&result)) {
        ADD_FAILURE() << "refused " << line << ": " << *error;
        return {};
    }
    return std::get<Request>(result);
}

// The message parse_request gives, or "" when it accepted the line.
std::string refusal(std::string_view line)
{
    std::variant<Request, std::string> result = parse_request(line);
    if (const auto* error = std::get_if<std::string>(&result)) {
        EXPECT_FALSE(error->empty()) << "empty message for " << line;
        return *error;
    }
    return "";
}

Request make(Command command, std::optional<std::string> folder = std::nullopt, bool wait = false)
{
    Request request;
    request.command = command;
    request.folder = std::move(folder);
    request.wait = wait;
    return request;
}

TEST(ControlProtocolTest, ParsesEveryValidForm)
{
    EXPECT_EQ(parsed(R"({"command":"status"})"), make(Command::Status));
    EXPECT_EQ(parsed(R"({"command":"pause"})"), make(Command::Pause));
    EXPECT_EQ(parsed(R"({"command":"pause","folder":"photos"})"), make(Command::Pause, "photos"));
    EXPECT_EQ(parsed(R"({"command":"resume"})"), make(Command::Resume));
    EXPECT_EQ(parsed(R"({"command":"resume","folder":"docs"})"), make(Command::Resume, "docs"));
    EXPECT_EQ(parsed(R"({"command":"resync"})"), make(Command::Resync));
    EXPECT_EQ(parsed(R"({"command":"resync","folder":"docs"})"), make(Command::Resync, "docs"));
    EXPECT_EQ(parsed(R"({"command":"resync","wait":true})"), make(Command::Resync, std::nullopt, true));
    EXPECT_EQ(parsed(R"({"command":"resync","wait":false})"), make(Command::Resync));
    EXPECT_EQ(parsed(R"({"wait":true,"folder":"d","command":"resync"})"), make(Command::Resync, "d", true));
}

TEST(ControlProtocolTest, AcceptsNewlineAndWhitespace)
{
    EXPECT_EQ(parsed("{\"command\":\"status\"}\n"), make(Command::Status));
    EXPECT_EQ(parsed("  { \"command\" : \"pause\" }\r\n"), make(Command::Pause));
    // A folder name is any string: Unicode escapes decode to UTF-8.
    EXPECT_EQ(parsed(R"({"command":"pause","folder":"caf\u00e9"})"), make(Command::Pause, "caf\xc3\xa9"));
}

TEST(ControlProtocolTest, EncodeParseRoundTrip)
{
    for (const Request& request :
         {make(Command::Status), make(Command::Pause), make(Command::Pause, "photos"), make(Command::Resume, "a b"),
          make(Command::Resync), make(Command::Resync, "docs", true), make(Command::Resync, std::nullopt, true),
          make(Command::Resume, "quote\" back\\slash \n newline")}) {
        const std::string line = encode_request(request);
        ASSERT_FALSE(line.empty());
        EXPECT_EQ(line.back(), '\n');
        EXPECT_EQ(line.find('\n'), line.size() - 1) << "one line only: " << line;
        EXPECT_EQ(parsed(line), request) << line;
    }
}

TEST(ControlProtocolTest, EncodesTheDocumentedShape)
{
    EXPECT_EQ(encode_request(make(Command::Status)), "{\"command\":\"status\"}\n");
    EXPECT_EQ(encode_request(make(Command::Resync, "docs", true)),
              "{\"command\":\"resync\",\"folder\":\"docs\",\"wait\":true}\n");
}

TEST(ControlProtocolTest, RefusesUnknownCommands)
{
    EXPECT_NE(refusal(R"({"command":"stop"})").find("unknown command 'stop'"), std::string::npos);
    EXPECT_NE(refusal(R"({"command":"Status"})"), "");
    EXPECT_NE(refusal(R"({"command":""})"), "");
    // A huge command name is quoted only in part.
    const std::string long_name(10000, 'x');
    const std::string message = refusal(R"({"command":")" + long_name + R"("})");
    EXPECT_NE(message, "");
    EXPECT_LT(message.size(), 200U);
}

TEST(ControlProtocolTest, RefusesUnknownAndDuplicateFields)
{
    EXPECT_NE(refusal(R"({"command":"status","verbose":true})").find("unknown field 'verbose'"), std::string::npos);
    EXPECT_NE(refusal(R"({"comand":"status"})").find("unknown field 'comand'"), std::string::npos);
    EXPECT_NE(refusal(R"({"command":"pause","folders":"x"})").find("unknown field 'folders'"), std::string::npos);
    EXPECT_NE(refusal(R"({"command":"pause","folder":"a","folder":"b"})").find("duplicate field 'folder'"),
              std::string::npos);
    EXPECT_NE(refusal(R"({"command":"status","command":"status"})"), "");
    EXPECT_NE(refusal(R"({})").find("missing field 'command'"), std::string::npos);
    EXPECT_NE(refusal(R"({"folder":"x"})").find("missing field 'command'"), std::string::npos);
}

TEST(ControlProtocolTest, RefusesFieldsTheCommandDoesNotTake)
{
    EXPECT_NE(refusal(R"({"command":"status","folder":"x"})"), "");
    EXPECT_NE(refusal(R"({"command":"status","wait":true})").find("only valid for resync"), std::string::npos);
    EXPECT_NE(refusal(R"({"command":"pause","wait":false})"), "");
    EXPECT_NE(refusal(R"({"command":"resume","wait":true})"), "");
}

TEST(ControlProtocolTest, RefusesWrongTypes)
{
    EXPECT_NE(refusal(R"({"command":1})").find("'command' must be a string"), std::string::npos);
    EXPECT_NE(refusal(R"({"command":null})"), "");
    EXPECT_NE(refusal(R"({"command":["status"]})"), "");
    EXPECT_NE(refusal(R"({"command":"pause","folder":7})").find("'folder' must be a string"), std::string::npos);
    EXPECT_NE(refusal(R"({"command":"pause","folder":null})"), "");
    EXPECT_NE(refusal(R"({"command":"pause","folder":{"name":"x"}})"), "");
    EXPECT_NE(refusal(R"({"command":"pause","folder":["x"]})"), "");
    EXPECT_NE(refusal(R"({"command":"resync","wait":"yes"})").find("'wait' must be true or false"), std::string::npos);
    EXPECT_NE(refusal(R"({"command":"resync","wait":1})"), "");
    EXPECT_NE(refusal(R"({"command":"resync","wait":null})"), "");
}

TEST(ControlProtocolTest, RefusesNonObjects)
{
    for (const char* line : {"[]", R"(["status"])", R"("status")", "status", "42", "true", "null", "-1e5"}) {
        EXPECT_NE(refusal(line), "") << line;
    }
    EXPECT_NE(refusal("[]").find("must be a JSON object"), std::string::npos);
}

TEST(ControlProtocolTest, RefusesEmptyLines)
{
    EXPECT_EQ(refusal(""), "empty request");
    EXPECT_EQ(refusal("\n"), "empty request");
    EXPECT_EQ(refusal("   \t\r\n"), "empty request");
}

TEST(ControlProtocolTest, RefusesTruncatedJson)
{
    const std::string full = R"({"command":"resync","folder":"docs","wait":true})";
    for (std::size_t size = 1; size < full.size(); ++size) {
        EXPECT_NE(refusal(full.substr(0, size)), "") << full.substr(0, size);
    }
    EXPECT_NE(refusal(full + "}"), "");
    EXPECT_NE(refusal(full + full), ""); // two objects on one line
    EXPECT_NE(refusal(R"({"command":"status",})"), "");
    EXPECT_NE(refusal("{'command':'status'}"), "");
}

TEST(ControlProtocolTest, RefusesInvalidUtf8)
{
    EXPECT_NE(refusal("{\"command\":\"pause\",\"folder\":\"caf\xe9\"}").find("invalid JSON"), std::string::npos);
    EXPECT_NE(refusal("{\"command\":\"pause\",\"folder\":\"\xff\xfe\"}"), "");
    EXPECT_NE(refusal("{\"command\":\"pause\",\"folder\":\"\xed\xa0\x80\"}"), ""); // a UTF-16 surrogate
    EXPECT_NE(refusal("{\"command\":\"pause\",\"folder\":\"\xc0\xaf\"}"), "");     // an overlong '/'
    EXPECT_NE(refusal("{\"command\":\"pause\",\"folder\":\"\xe2\x82\"}"), "");     // cut short
    EXPECT_NE(refusal("{\"command\":\"pause\",\"folder\":\"\\ud800\"}"), "");     // a lone escaped surrogate
    EXPECT_NE(refusal("\xff\xff\xff"), "");
    EXPECT_NE(refusal("{\"comm\xff\":\"status\"}"), "");
    // The message may quote the bad bytes; error_reply must still produce valid JSON from it.
    const std::string reply = error_reply(refusal("{\"command\":\"\xff\"}"));
    const std::variant<Reply, std::string> decoded = decode_reply(reply);
    ASSERT_TRUE(std::holds_alternative<Reply>(decoded)) << std::get<std::string>(decoded);
    EXPECT_FALSE(std::get<Reply>(decoded).ok);
}

TEST(ControlProtocolTest, RefusesNulAndControlBytes)
{
    // nlohmann's lexer alone would stop at the NUL and accept the object before it.
    EXPECT_NE(refusal(std::string{"{\"command\":\"status\"}\0", 21}), "");
    EXPECT_NE(refusal(std::string{"{\"command\":\"status\"}\0{\"x\":1}", 28}), "");
    EXPECT_NE(refusal(std::string{"{\"command\":\"pau\0se\"}", 20}), "");
    EXPECT_NE(refusal("{\"command\":\"pause\",\"folder\":\"a\tb\"}"), ""); // raw control characters in a string
}

TEST(ControlProtocolTest, SurvivesDeepNesting)
{
    // Nesting as deep as the line limit allows: refused without exhausting the stack.
    const std::size_t depth = MaxRequestLine / 2 - 64;
    const std::string arrays = R"({"command":"pause","folder":)" + std::string(depth, '[') + std::string(depth, ']') + "}";
    ASSERT_LE(arrays.size(), MaxRequestLine);
    EXPECT_NE(refusal(arrays).find("'folder' must be a string"), std::string::npos);

    std::string objects = R"({"command":"pause","folder":)";
    for (std::size_t i = 0; i < depth / 6; ++i) {
        objects += R"({"a":)";
    }
    objects += "1" + std::string(depth / 6, '}') + "}";
    ASSERT_LE(objects.size(), MaxRequestLine);
    EXPECT_NE(refusal(objects), "");

    EXPECT_NE(refusal(std::string(MaxRequestLine, '[')), ""); // unterminated
    EXPECT_NE(refusal(std::string(MaxRequestLine, '{')), "");
}

TEST(ControlProtocolTest, SurvivesHugeNumbers)
{
    EXPECT_NE(refusal(R"({"command":"resync","wait":1e400})"), "");
    EXPECT_NE(refusal(R"({"command":"resync","wait":-1e400})"), "");
    EXPECT_NE(refusal(R"({"command":"resync","wait":123456789012345678901234567890})"), "");
    EXPECT_NE(refusal("{\"command\":\"resync\",\"wait\":" + std::string(60000, '9') + "}"), "");
    EXPECT_NE(refusal(R"({"command":"resync","wait":-0.0e-99999})"), "");
    EXPECT_NE(refusal("1e99999"), "");
}

TEST(ControlProtocolTest, RefusesLinesOverTheLimit)
{
    // The limit counts the line without its "\n".
    std::string at_limit = R"({"command":"pause","folder":")";
    at_limit += std::string(MaxRequestLine - at_limit.size() - 2, 'f') + "\"}";
    ASSERT_EQ(at_limit.size(), MaxRequestLine);
    EXPECT_EQ(parsed(at_limit).folder->size(), MaxRequestLine - 31);
    EXPECT_EQ(parsed(at_limit + "\n").command, Command::Pause);

    std::string over = R"({"command":"pause","folder":")";
    over += std::string(MaxRequestLine - over.size() - 1, 'f') + "\"}";
    ASSERT_EQ(over.size(), MaxRequestLine + 1);
    EXPECT_EQ(refusal(over), LineTooLongError);
}

TEST(ControlProtocolTest, ErrorReplies)
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

TEST(ControlProtocolTest, StatusRoundTrip)
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

TEST(ControlProtocolTest, StatusCarriesEverySpecField)
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
TEST(ControlProtocolTest, NonUtf8PathsBecomeReplacementCharacters)
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

TEST(ControlProtocolTest, DecodeStatusRefusesMalformedReplies)
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

TEST(ControlProtocolTest, OverallState)
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

TEST(ControlProtocolTest, FoldersRoundTrip)
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

TEST(ControlProtocolTest, DecodeFoldersRefusesMalformedBodies)
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

TEST(ControlProtocolTest, DecodeReplyNeverThrows)
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

std::vector<std::string> lines_of(LineReader& reader, LineReader::Result* last)
{
    std::vector<std::string> lines;
    std::string line;
    while ((*last = reader.next(&line)) == LineReader::Result::Line) {
        lines.push_back(line);
    }
    return lines;
}

TEST(ControlProtocolTest, LineReaderSplitsLines)
{
    LineReader reader{100};
    LineReader::Result last{};
    reader.append("{\"a\":1}\n{\"b\"");
    EXPECT_EQ(lines_of(reader, &last), std::vector<std::string>{"{\"a\":1}"});
    EXPECT_EQ(last, LineReader::Result::NeedMore);
    EXPECT_EQ(reader.buffered(), 4U);
    reader.append(":2}\n\nx\n");
    EXPECT_EQ(lines_of(reader, &last), (std::vector<std::string>{"{\"b\":2}", "", "x"}));
    EXPECT_EQ(last, LineReader::Result::NeedMore);
    EXPECT_EQ(reader.buffered(), 0U);
}

TEST(ControlProtocolTest, LineReaderByteByByte)
{
    const std::string stream = "one\ntwo two\n\nthree\n";
    LineReader reader{10};
    std::vector<std::string> lines;
    for (const char c : stream) {
        reader.append(std::string_view{&c, 1});
        std::string line;
        while (reader.next(&line) == LineReader::Result::Line) {
            lines.push_back(line);
        }
    }
    EXPECT_EQ(lines, (std::vector<std::string>{"one", "two two", "", "three"}));
}

TEST(ControlProtocolTest, LineReaderEnforcesTheLimit)
{
    LineReader exact{5};
    LineReader::Result last{};
    exact.append("12345\n");
    EXPECT_EQ(lines_of(exact, &last), std::vector<std::string>{"12345"});

    LineReader partial{5};
    partial.append("12345");
    EXPECT_EQ(lines_of(partial, &last).size(), 0U);
    EXPECT_EQ(last, LineReader::Result::NeedMore); // could still end here
    partial.append("6");
    lines_of(partial, &last);
    EXPECT_EQ(last, LineReader::Result::TooLong); // no need to wait for the "\n"

    LineReader after{5};
    after.append("ok\n123456\nok\n");
    EXPECT_EQ(lines_of(after, &last), std::vector<std::string>{"ok"});
    EXPECT_EQ(last, LineReader::Result::TooLong);
    std::string line;
    EXPECT_EQ(after.next(&line), LineReader::Result::TooLong); // and stays so
}

TEST(ControlProtocolTest, LineReaderLongStream)
{
    LineReader reader{MaxRequestLine};
    const std::string line(1000, 'x');
    std::size_t count = 0;
    LineReader::Result last{};
    for (int i = 0; i < 1000; ++i) {
        reader.append(line + "\n" + line.substr(0, 10));
        reader.append(line.substr(10) + "\n");
        for (const std::string& got : lines_of(reader, &last)) {
            EXPECT_EQ(got, line);
            ++count;
        }
    }
    EXPECT_EQ(count, 2000U);
    EXPECT_EQ(reader.buffered(), 0U);
}

TEST(ControlProtocolTest, SocketPathRule)
{
    EXPECT_EQ(socket_path_for("/run/minisyncd", "/run/user/1000", 1000), "/run/minisyncd/minisyncd.sock");
    EXPECT_EQ(socket_path_for("/run/minisyncd/", std::nullopt, 0), "/run/minisyncd/minisyncd.sock");
    EXPECT_EQ(socket_path_for("/run/a:/run/b", std::nullopt, 0), "/run/a/minisyncd.sock");
    EXPECT_EQ(socket_path_for("", "/run/user/1000", 1000), "/run/user/1000/minisync/minisyncd.sock");
    EXPECT_EQ(socket_path_for(":/run/b", "/run/user/7", 7), "/run/user/7/minisync/minisyncd.sock");
    EXPECT_EQ(socket_path_for(std::nullopt, "/run/user/1000", 1000), "/run/user/1000/minisync/minisyncd.sock");
    EXPECT_EQ(socket_path_for(std::nullopt, "/run/user/1000/", 1000), "/run/user/1000/minisync/minisyncd.sock");
    EXPECT_EQ(socket_path_for(std::nullopt, "relative/dir", 1000), "/tmp/minisync-1000/minisyncd.sock");
    EXPECT_EQ(socket_path_for(std::nullopt, "", 1000), "/tmp/minisync-1000/minisyncd.sock");
    EXPECT_EQ(socket_path_for(std::nullopt, std::nullopt, 4242), "/tmp/minisync-4242/minisyncd.sock");
}

// Sets or unsets an environment variable for the scope, restoring what was there.
class ScopedEnv {
public:
    ScopedEnv(const char* name, const char* value) : name_{name}
    {
        if (const char* old = std::getenv(name)) {
            old_ = old;
        }
        if (value != nullptr) {
            ::setenv(name, value, 1);
        } else {
            ::unsetenv(name);
        }
    }
    ~ScopedEnv()
    {
        if (old_) {
            ::setenv(name_, old_->c_str(), 1);
        } else {
            ::unsetenv(name_);
        }
    }
    ScopedEnv(const ScopedEnv&) = delete;
    ScopedEnv& operator=(const ScopedEnv&) = delete;

private:
    const char* name_;
    std::optional<std::string> old_;
};

TEST(ControlProtocolTest, DefaultSocketPathReadsTheEnvironment)
{
    const std::string uid = std::to_string(::getuid());
    {
        ScopedEnv runtime{"RUNTIME_DIRECTORY", "/run/minisyncd"};
        ScopedEnv xdg{"XDG_RUNTIME_DIR", "/run/user/1000"};
        EXPECT_EQ(default_socket_path(), "/run/minisyncd/minisyncd.sock");
    }
    {
        ScopedEnv runtime{"RUNTIME_DIRECTORY", "/run/minisyncd:/run/other"};
        ScopedEnv xdg{"XDG_RUNTIME_DIR", nullptr};
        EXPECT_EQ(default_socket_path(), "/run/minisyncd/minisyncd.sock");
    }
    {
        ScopedEnv runtime{"RUNTIME_DIRECTORY", nullptr};
        ScopedEnv xdg{"XDG_RUNTIME_DIR", "/run/user/1000"};
        EXPECT_EQ(default_socket_path(), "/run/user/1000/minisync/minisyncd.sock");
    }
    {
        ScopedEnv runtime{"RUNTIME_DIRECTORY", nullptr};
        ScopedEnv xdg{"XDG_RUNTIME_DIR", "run/user/1000"};
        EXPECT_EQ(default_socket_path(), "/tmp/minisync-" + uid + "/minisyncd.sock");
    }
    {
        ScopedEnv runtime{"RUNTIME_DIRECTORY", nullptr};
        ScopedEnv xdg{"XDG_RUNTIME_DIR", nullptr};
        EXPECT_EQ(default_socket_path(), "/tmp/minisync-" + uid + "/minisyncd.sock");
    }
}

} // namespace
} // namespace minisync::control
