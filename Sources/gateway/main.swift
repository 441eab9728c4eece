import GatewayRuntime
import Glibc

exit(GatewayCommandLine.main(Array(CommandLine.arguments.dropFirst())))
