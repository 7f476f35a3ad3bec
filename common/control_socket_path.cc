// Where the control socket lives: the path rule over the environment, the client's fallback to the
// system agent's socket, and whether a socket's directory can be trusted.
#include "control_protocol.h"

#include <sys/stat.h>

#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <sstream>

namespace minisync::control {

std::string socket_path_for(std::optional<std::string_view> runtime_directory,
                            std::optional<std::string_view> xdg_runtime_dir, uid_t uid)
{
    const auto trimmed = [](std::string_view dir) {
        while (!dir.empty() && dir.back() == '/') {
            dir.remove_suffix(1);
        }
        return std::string{dir};
    };
    if (runtime_directory) {
        // systemd sets one entry per RuntimeDirectory= name, ':'-separated; ours is the first.
        const std::string_view first = runtime_directory->substr(0, runtime_directory->find(':'));
        if (!first.empty()) {
            return trimmed(first) + "/minisyncd.sock";
        }
    }
    // The XDG base directory spec says a relative XDG_RUNTIME_DIR is invalid and must be ignored.
    if (xdg_runtime_dir && !xdg_runtime_dir->empty() && xdg_runtime_dir->front() == '/') {
        return trimmed(*xdg_runtime_dir) + "/minisync/minisyncd.sock";
    }
    return "/tmp/minisync-" + std::to_string(uid) + "/minisyncd.sock";
}

std::string default_socket_path()
{
    const auto env = [](const char* name) -> std::optional<std::string_view> {
        const char* value = std::getenv(name);
        return value != nullptr ? std::optional<std::string_view>{value} : std::nullopt;
    };
    return socket_path_for(env("RUNTIME_DIRECTORY"), env("XDG_RUNTIME_DIR"), ::getuid());
}

std::string client_socket_path()
{
    const std::string preferred = default_socket_path();
    struct stat st{};
    if (::stat(preferred.c_str(), &st) == 0 && S_ISSOCK(st.st_mode)) {
        return preferred;
    }
    if (::stat(SystemAgentSocket, &st) == 0 && S_ISSOCK(st.st_mode)) {
        return SystemAgentSocket;
    }
    return preferred;
}

Result<void> check_socket_directory(const std::string& directory, uid_t user)
{
    const auto untrusted = [&](const std::string& why) {
        return Error{ErrorCode::Untrusted, "directory '" + directory + "' " + why};
    };
    struct stat st{};
    if (::lstat(directory.c_str(), &st) != 0) {
        const int err = errno;
        return Error{ErrorCode::Unreachable, "directory '" + directory + "': " + std::strerror(err), err};
    }
    if (!S_ISDIR(st.st_mode)) {
        return untrusted("is not a directory (a symlink is not followed)");
    }
    if (st.st_uid != user && st.st_uid != 0) {
        return untrusted("is owned by uid " + std::to_string(st.st_uid) + ", neither this user (uid " +
                         std::to_string(user) + ") nor root; another user could have put a socket there");
    }
    if ((st.st_mode & (S_IWGRP | S_IWOTH)) != 0) {
        std::ostringstream mode;
        mode << std::oct << (st.st_mode & 07777);
        return untrusted("is writable by others (mode " + mode.str() +
                         "); another user could have put a socket there");
    }
    return {};
}

} // namespace minisync::control
