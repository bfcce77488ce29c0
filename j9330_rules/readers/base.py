"""What every reader shares."""

from attrs import define


@define(frozen=True)
class Unreadable:
    """Input that is not a claim; ``message`` says where and why, without its content."""

    message: str
