"""BridgePay BridgeComm: the wire protocol (protocol.py), response codes (codes.py), typed results (types.py), the client."""
