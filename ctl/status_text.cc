// Status rendering: fixed wording, columns padded to the widest entry, numbers made short.
#include "status_text.h"

#include <algorithm>
#include <array>
#include <cstdio>

namespace minisync::ctl {
namespace {

std::string padded(std::string_view text, std::size_t width)
{
    std::string out{text};
    const std::size_t used = display_width(text);
    if (used < width) {
        out.append(width - used, ' ');
    }
    return out;
}

std::string two_digits(std::uint64_t value)
{
    return (value < 10 ? "0" : "") + std::to_string(value);
}

std::string percent(std::uint64_t offset, std::uint64_t size)
{
    if (size == 0 || offset >= size) {
        return "100%";
    }
    const auto whole = static_cast<unsigned>(static_cast<double>(offset) * 100.0 / static_cast<double>(size));
    return std::to_string(std::min(whole, 99U)) + "%"; // 100% only once everything is there
}

} // namespace

std::string format_bytes(std::uint64_t bytes)
{
    static constexpr std::array<const char*, 6> Units{"KiB", "MiB", "GiB", "TiB", "PiB", "EiB"};
    if (bytes < 1024) {
        return std::to_string(bytes) + " B";
    }
    double value = static_cast<double>(bytes) / 1024.0;
    std::size_t unit = 0;
    // Switch unit before the value would print as "1024.0".
    while (value >= 1023.95 && unit + 1 < Units.size()) {
        value /= 1024.0;
        ++unit;
    }
    std::array<char, 32> text{};
    std::snprintf(text.data(), text.size(), "%.1f %s", value, Units[unit]);
    return text.data();
}

std::string format_count(std::uint64_t count)
{
    const std::string digits = std::to_string(count);
    std::string out;
    for (std::size_t i = 0; i < digits.size(); ++i) {
        if (i > 0 && (digits.size() - i) % 3 == 0) {
            out.push_back(',');
        }
        out.push_back(digits[i]);
    }
    return out;
}

std::string format_duration(std::uint64_t seconds)
{
    if (seconds < 60) {
        return std::to_string(seconds) + "s";
    }
    if (seconds < 3600) {
        return std::to_string(seconds / 60) + "m" + two_digits(seconds % 60) + "s";
    }
    if (seconds < 86400) {
        return std::to_string(seconds / 3600) + "h" + two_digits(seconds % 3600 / 60) + "m";
    }
    return std::to_string(seconds / 86400) + "d" + two_digits(seconds % 86400 / 3600) + "h";
}

std::string printable(std::string_view text)
{
    std::string out;
    out.reserve(text.size());
    std::array<char, 8> escape{};
    for (std::size_t i = 0; i < text.size(); ++i) {
        const auto byte = static_cast<unsigned char>(text[i]);
        if (byte < 0x20 || byte == 0x7f) {
            std::snprintf(escape.data(), escape.size(), "\\x%02x", byte);
            out += escape.data();
        } else if (byte == 0xc2 && i + 1 < text.size() && static_cast<unsigned char>(text[i + 1]) >= 0x80 &&
                   static_cast<unsigned char>(text[i + 1]) <= 0x9f) {
            // U+0080..U+009F, the C1 controls: some terminals act on them as on ESC sequences.
            std::snprintf(escape.data(), escape.size(), "\\u%04x", static_cast<unsigned char>(text[i + 1]));
            out += escape.data();
            ++i;
        } else {
            out.push_back(text[i]);
        }
    }
    return out;
}

std::size_t display_width(std::string_view text)
{
    return static_cast<std::size_t>(
        std::count_if(text.begin(), text.end(), [](char c) { return (static_cast<unsigned char>(c) & 0xC0) != 0x80; }));
}

std::string format_status(const control::StatusReply& status)
{
    std::string out = "minisyncd " + printable(status.version) + " \u2014 " + control::to_string(status.state) + ", " +
                      (status.connected ? "connected to " : "not connected to ") + printable(status.server) +
                      " (up " + format_duration(status.uptime_seconds) + ")\n";
    out += "queue " + format_count(status.queue_depth) + ", " + format_count(status.inflight.size()) + " in flight, " +
           format_count(status.files_synced) + (status.files_synced == 1 ? " file" : " files") + " synced, " +
           format_bytes(status.bytes_sent) + " sent\n";

    if (status.folders.empty()) {
        out += "  (no folders)\n";
    }
    // A daemon that reports no state says only whether the folder is paused.
    auto state_of = [](const control::FolderStatus& folder) {
        return !folder.state.empty() ? printable(folder.state) : folder.paused ? std::string{"paused"} : std::string{};
    };
    std::size_t name_width = 0;
    std::size_t path_width = 0;
    std::size_t state_width = 0;
    for (const control::FolderStatus& folder : status.folders) {
        name_width = std::max(name_width, display_width(printable(folder.name)));
        path_width = std::max(path_width, display_width(printable(folder.path)));
        state_width = std::max(state_width, display_width(state_of(folder)));
    }
    for (const control::FolderStatus& folder : status.folders) {
        const std::string state = state_of(folder);
        out += "  " + padded(printable(folder.name), name_width) + "  " + padded(printable(folder.path), path_width) +
               "  " + (state_width == 0 ? "" : padded(state, state_width) + "  ") + "pending " +
               format_count(folder.pending);
        if (folder.error) {
            out += "  error: " + printable(*folder.error);
        }
        out += "\n";
    }

    if (!status.inflight.empty()) {
        out += "in flight:\n";
        std::size_t width = 0;
        for (const control::InflightTransfer& transfer : status.inflight) {
            width = std::max(width, display_width(printable(transfer.path)));
        }
        for (const control::InflightTransfer& transfer : status.inflight) {
            const std::string done = percent(transfer.offset, transfer.size);
            out += "  " + padded(printable(transfer.path), width) + "  " + std::string(4 - done.size(), ' ') + done +
                   "  " + format_bytes(transfer.offset) + " / " + format_bytes(transfer.size) + "\n";
        }
    }
    if (status.last_error) {
        out += "last error: " + printable(*status.last_error) + "\n";
    }
    return out;
}

} // namespace minisync::ctl
