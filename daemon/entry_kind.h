// The kinds of entry a folder mirrors. The numbers are stored in the state database.
#pragma once

#include <cstdint>

namespace minisync::agent {

enum class EntryKind : std::uint8_t { File = 0, Directory = 1, Symlink = 2 };

} // namespace minisync::agent
