// The human-readable rendering of minisyncctl's output: the status summary and the numbers in it.
#pragma once

#include "control_protocol.h"

#include <cstdint>
#include <string>
#include <string_view>

namespace minisync::ctl {

// The whole status, several lines, each ending in "\n":
//   minisyncd 0.1.0 — running, connected to backup.example.org:7443 (up 3h12m)
//   queue 12, 2 in flight, 1,234 files synced, 5.3 GiB sent
//     photos  /home/u/Pictures   pending 10
//     docs    /home/u/Documents  paused  pending 2
//   in flight:
//     photos/2024/img001.jpg   45%  12.0 MiB / 26.5 MiB
//   last error: ...
std::string format_status(const control::StatusReply& status);

// "512 B", "12.0 MiB", "5.3 GiB": powers of 1024, as the size suffixes of --bwlimit (README.md).
std::string format_bytes(std::uint64_t bytes);
// "1,234,567"
std::string format_count(std::uint64_t count);
// "42s", "5m07s", "3h12m", "2d04h"
std::string format_duration(std::uint64_t seconds);
// text with control characters shown as escapes (C0 and DEL as \x1b, C1 as \u009b), so a file name cannot
// drive the terminal.
std::string printable(std::string_view text);
// Columns text takes on a terminal: UTF-8 sequences count as one (wide characters are not special-cased).
std::size_t display_width(std::string_view text);

} // namespace minisync::ctl
