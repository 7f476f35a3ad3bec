// Tests for control_commands.cc: the command table, request validation and encoding.
#include "control_protocol.h"

#include <gtest/gtest.h>

#include <optional>
#include <string>
#include <string_view>

namespace minisync::control {
namespace {

Request parsed(std::string_view line)
{
    Result<Request> result = parse_request(line);
    if (!result.ok()) {
        ADD_FAILURE() << "refused " << line << ": " << result.error().message;
        return {};
    }
    return result.value();
}

// The message parse_request gives, or "" when it accepted the line.
std::string refusal(std::string_view line)
{
    Result<Request> result = parse_request(line);
    if (!result.ok()) {
        EXPECT_FALSE(result.error().message.empty()) << "empty message for " << line;
        EXPECT_EQ(result.error().code, ErrorCode::Control) << line;
        return result.error().message;
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

TEST(ControlCommandsTest, ParsesEveryValidForm)
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

TEST(ControlCommandsTest, AcceptsNewlineAndWhitespace)
{
    EXPECT_EQ(parsed("{\"command\":\"status\"}\n"), make(Command::Status));
    EXPECT_EQ(parsed("  { \"command\" : \"pause\" }\r\n"), make(Command::Pause));
    // A folder name is any string: Unicode escapes decode to UTF-8.
    EXPECT_EQ(parsed(R"({"command":"pause","folder":"caf\u00e9"})"), make(Command::Pause, "caf\xc3\xa9"));
}

TEST(ControlCommandsTest, EncodeParseRoundTrip)
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

TEST(ControlCommandsTest, EncodesTheDocumentedShape)
{
    EXPECT_EQ(encode_request(make(Command::Status)), "{\"command\":\"status\"}\n");
    EXPECT_EQ(encode_request(make(Command::Resync, "docs", true)),
              "{\"command\":\"resync\",\"folder\":\"docs\",\"wait\":true}\n");
}

TEST(ControlCommandsTest, RefusesUnknownCommands)
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

TEST(ControlCommandsTest, RefusesUnknownAndDuplicateFields)
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

TEST(ControlCommandsTest, RefusesFieldsTheCommandDoesNotTake)
{
    EXPECT_NE(refusal(R"({"command":"status","folder":"x"})"), "");
    EXPECT_NE(refusal(R"({"command":"status","wait":true})").find("only valid for resync"), std::string::npos);
    EXPECT_NE(refusal(R"({"command":"pause","wait":false})"), "");
    EXPECT_NE(refusal(R"({"command":"resume","wait":true})"), "");
}

TEST(ControlCommandsTest, RefusesWrongTypes)
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

TEST(ControlCommandsTest, RefusesNonObjects)
{
    for (const char* line : {"[]", R"(["status"])", R"("status")", "status", "42", "true", "null", "-1e5"}) {
        EXPECT_NE(refusal(line), "") << line;
    }
    EXPECT_NE(refusal("[]").find("must be a JSON object"), std::string::npos);
}

TEST(ControlCommandsTest, RefusesEmptyLines)
{
    EXPECT_EQ(refusal(""), "empty request");
    EXPECT_EQ(refusal("\n"), "empty request");
    EXPECT_EQ(refusal("   \t\r\n"), "empty request");
}

TEST(ControlCommandsTest, RefusesTruncatedJson)
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

TEST(ControlCommandsTest, RefusesInvalidUtf8)
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
    const Result<Reply> decoded = decode_reply(reply);
    ASSERT_TRUE(decoded.ok()) << decoded.error().message;
    EXPECT_FALSE(decoded.value().ok);
}

TEST(ControlCommandsTest, RefusesNulAndControlBytes)
{
    // nlohmann's lexer alone would stop at the NUL and accept the object before it.
    EXPECT_NE(refusal(std::string{"{\"command\":\"status\"}\0", 21}), "");
    EXPECT_NE(refusal(std::string{"{\"command\":\"status\"}\0{\"x\":1}", 28}), "");
    EXPECT_NE(refusal(std::string{"{\"command\":\"pau\0se\"}", 20}), "");
    EXPECT_NE(refusal("{\"command\":\"pause\",\"folder\":\"a\tb\"}"), ""); // raw control characters in a string
}

TEST(ControlCommandsTest, SurvivesDeepNesting)
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

TEST(ControlCommandsTest, SurvivesHugeNumbers)
{
    EXPECT_NE(refusal(R"({"command":"resync","wait":1e400})"), "");
    EXPECT_NE(refusal(R"({"command":"resync","wait":-1e400})"), "");
    EXPECT_NE(refusal(R"({"command":"resync","wait":123456789012345678901234567890})"), "");
    EXPECT_NE(refusal("{\"command\":\"resync\",\"wait\":" + std::string(60000, '9') + "}"), "");
    EXPECT_NE(refusal(R"({"command":"resync","wait":-0.0e-99999})"), "");
    EXPECT_NE(refusal("1e99999"), "");
}

TEST(ControlCommandsTest, RefusesLinesOverTheLimit)
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

} // namespace
} // namespace minisync::control
