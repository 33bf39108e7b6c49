"""One module per CloudFormation stack; a stack only composes constructs."""
