// Fuzz target: control requests and replies parse any line safely and round-trip; LineReader keeps lines.
#include "control_protocol.h"

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>
#include <variant>

namespace {

using namespace minisync::control;

void check(bool ok, const char* what)
{
    if (!ok) {
        std::fprintf(stderr, "fuzz_control_request: invariant broken: %s\n", what);
        std::abort();
    }
}

// Every encoder promises exactly one line: a single "\n", at the end.
void check_one_line(const std::string& line, const char* what)
{
    check(!line.empty() && line.back() == '\n' && line.find('\n') == line.size() - 1, what);
}

void check_request(std::string_view line)
{
    const auto parsed = parse_request(line);
    if (!parsed.ok()) {
        check(!parsed.error().message.empty(), "request refused without a message");
        return;
    }
    const Request& request = parsed.value();
    check(request.command != Command::Status || !request.folder, "status with a folder");
    check(request.command == Command::Resync || !request.wait, "wait on a command other than resync");
    const std::string encoded = encode_request(request);
    check_one_line(encoded, "encode_request is not one line");
    const auto again = parse_request(encoded);
    check(again.ok(), "an encoded request is refused");
    check(again.value() == request, "request round trip differs");
}

void check_reply(std::string_view line)
{
    const auto decoded = decode_reply(line);
    if (!decoded.ok()) {
        check(!decoded.error().message.empty(), "reply refused without a message");
        return;
    }
    const Reply& reply = decoded.value();
    check(reply.body.is_object(), "reply body is not an object");
    if (!reply.ok) {
        // The text a failed reply carries goes back out unchanged through error_reply().
        const std::string encoded = error_reply(reply.error);
        check_one_line(encoded, "error_reply is not one line");
        const auto again = decode_reply(encoded);
        check(again.ok(), "an encoded error reply is refused");
        check(!again.value().ok && again.value().error == reply.error, "error reply round trip");
    }
}

void check_status(std::string_view line)
{
    const auto decoded = decode_status(line);
    if (!decoded.ok()) {
        return;
    }
    const StatusReply& status = decoded.value();
    const std::string encoded = encode_status(status);
    check_one_line(encoded, "encode_status is not one line");
    const auto again = decode_status(encoded);
    check(again.ok(), "an encoded status is refused");
    check(again.value() == status, "status round trip differs");
}

void check_folders(std::string_view line)
{
    const auto decoded = decode_folders(line);
    if (!decoded.ok()) {
        return;
    }
    const FoldersReply& reply = decoded.value();
    const std::string encoded = encode_folders(reply);
    check_one_line(encoded, "encode_folders is not one line");
    const auto again = decode_folders(encoded);
    check(again.ok(), "an encoded folders reply is refused");
    check(again.value() == reply, "folders reply round trip differs");
}

// The bytes fed in chunks of a size taken from the input: the lines that come out, each with its "\n"
// put back, are the stream's beginning, and none is longer than the limit.
void check_line_reader(std::string_view bytes)
{
    constexpr std::size_t MaxLine = 64;
    const std::size_t chunk = bytes.empty() ? 1 : static_cast<unsigned char>(bytes.front()) % 16 + 1;
    LineReader reader{MaxLine};
    std::string rebuilt;
    std::size_t fed = 0;
    bool too_long = false;
    while (fed < bytes.size() && !too_long) {
        const std::string_view piece = bytes.substr(fed, chunk);
        reader.append(piece);
        fed += piece.size();
        std::string line;
        for (;;) {
            const LineReader::Result result = reader.next(&line);
            if (result == LineReader::Result::NeedMore) {
                break;
            }
            if (result == LineReader::Result::TooLong) {
                too_long = true;
                break;
            }
            check(line.size() <= MaxLine && line.find('\n') == std::string::npos, "LineReader line");
            rebuilt += line;
            rebuilt += '\n';
        }
        check(rebuilt.size() + reader.buffered() == fed, "LineReader lost or invented bytes");
    }
    check(bytes.substr(0, rebuilt.size()) == rebuilt, "LineReader lines are not the stream");
    if (!too_long) {
        // Whatever is left is the last, unterminated line.
        const std::string_view rest = bytes.substr(rebuilt.size());
        check(rest.find('\n') == std::string_view::npos && rest.size() <= MaxLine, "LineReader kept a whole line");
    }
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size)
{
    const std::string_view line{reinterpret_cast<const char*>(data), size};
    check_request(line);
    check_reply(line);
    check_status(line);
    check_folders(line);
    check_line_reader(line);
    return 0;
}
