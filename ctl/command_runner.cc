// Connect, send, check the reply as far as the command needs, print, and map the outcome to an exit code.
#include "command_runner.h"

#include "control_client.h"
#include "status_text.h"

#include <optional>
#include <ostream>
#include <variant>

namespace minisync::ctl {
namespace {

std::string joined_names(const std::vector<std::string>& names)
{
    if (names.empty()) {
        return "(no folders)";
    }
    std::string out;
    for (const std::string& name : names) {
        out += (out.empty() ? "" : ", ") + printable(name);
    }
    return out;
}

const char* done_verb(const control::Request& request)
{
    switch (request.command) {
    case control::Command::Pause: return "paused";
    case control::Command::Resume: return "resumed";
    case control::Command::Resync: return request.wait ? "resynced" : "resync started";
    case control::Command::Status: break;
    }
    return "done";
}

} // namespace

int run_command(const CtlOptions& options, std::ostream& out, std::ostream& err)
{
    const std::string path = options.socket_path.empty() ? control::client_socket_path() : options.socket_path;
    const control::Request& request = options.request;
    const char* command = control::to_string(request.command);
    const auto unreachable = [&](const std::string& why) {
        err << "minisyncctl: cannot reach minisyncd at '" << printable(path) << "': " << why << "\n";
        return ExitUnreachable;
    };
    const auto malformed = [&](const std::string& why) {
        err << "minisyncctl: minisyncd at '" << printable(path) << "' sent a malformed reply: " << printable(why)
            << "\n";
        return ExitUnreachable;
    };

    Result<ControlClient> client = ControlClient::connect(path, ReplyTimeout);
    if (!client.ok()) {
        return unreachable(client.error().message);
    }
    const std::string request_line = control::encode_request(request);
    if (options.debug) {
        err << "> " << request_line << std::flush;
    }
    // resync --wait lasts as long as the queue takes to drain: no deadline is right for every tree.
    const bool waits = request.command == control::Command::Resync && request.wait;
    const Result<std::string> line =
        client.value().exchange(request_line, waits ? std::nullopt : std::optional{ReplyTimeout});
    if (!line.ok()) {
        return unreachable(line.error().message);
    }
    if (options.debug) {
        err << "< " << printable(line.value()) << "\n" << std::flush;
    }

    const Result<control::Reply> decoded = control::decode_reply(line.value());
    if (!decoded.ok()) {
        return malformed(decoded.error().message);
    }
    const control::Reply& reply = decoded.value();
    if (!reply.ok) {
        if (options.json) {
            out << line.value() << "\n";
        }
        err << "minisyncctl: " << command << ": " << printable(reply.error) << "\n";
        return ExitDaemonError;
    }

    if (request.command == control::Command::Status) {
        const Result<control::StatusReply> status = control::decode_status_body(reply.body);
        if (!status.ok()) {
            return malformed(status.error().message);
        }
        if (options.json) {
            out << line.value() << "\n";
        } else {
            out << format_status(status.value());
        }
        return ExitOk;
    }

    const Result<control::FoldersReply> folders = control::decode_folders_body(reply.body);
    if (!folders.ok()) {
        return malformed(folders.error().message);
    }
    const control::FoldersReply& affected = folders.value();
    if (waits && !affected.failed) {
        return malformed("no 'failed' count in the reply to resync with wait");
    }
    if (options.json) {
        out << line.value() << "\n";
    } else {
        out << done_verb(request) << ": " << joined_names(affected.folders) << "\n";
    }
    if (waits && *affected.failed > 0) {
        err << "minisyncctl: resync: " << format_count(*affected.failed)
            << (*affected.failed == 1 ? " file" : " files") << " could not be synced (minisyncd's log says why)\n";
        return ExitDaemonError;
    }
    return ExitOk;
}

} // namespace minisync::ctl
