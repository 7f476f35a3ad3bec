// Control protocol framing: LineReader cuts the byte stream into bounded lines.
#include "control_protocol.h"

namespace minisync::control {

LineReader::Result LineReader::next(std::string* line)
{
    const std::size_t newline = buffer_.find('\n', scanned_);
    if (newline == std::string::npos) {
        scanned_ = buffer_.size();
        return buffered() > max_line_ ? Result::TooLong : Result::NeedMore;
    }
    if (newline - start_ > max_line_) {
        return Result::TooLong;
    }
    line->assign(buffer_, start_, newline - start_);
    start_ = newline + 1;
    scanned_ = start_;
    if (start_ == buffer_.size()) {
        buffer_.clear();
        start_ = scanned_ = 0;
    } else if (start_ > 64 * 1024 && start_ > buffer_.size() / 2) {
        // Drop what was returned once it is most of the buffer, so a long stream keeps a small buffer
        // without moving the tail after every line.
        buffer_.erase(0, start_);
        start_ = scanned_ = 0;
    }
    return Result::Line;
}

} // namespace minisync::control
