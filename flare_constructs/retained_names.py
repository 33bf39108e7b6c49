"""Names for resources that `cdk destroy` keeps."""

from aws_cdk import Aws, Fn


def stack_id_suffix() -> str:
    """The first block of the stack's UUID (a token, resolved at deploy). A retained resource's
    name carries it, so a rebuilt stack makes its own beside the kept one and never collides."""
    return Fn.select(0, Fn.split("-", Fn.select(2, Fn.split("/", Aws.STACK_ID))))
