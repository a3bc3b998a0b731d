"""Every message, enum and enum value of the vigil.v1 API in one namespace:

    from vigil_client import v1
    v1.Offender(display_name="A. Person", status=v1.OFFENDER_STATUS_ACTIVE_COMMUNITY)

The generated modules themselves are vigil_client._proto.<file>_pb2 (and _pb2_grpc)."""

from ._proto import (admin_pb2, alerts_pb2, audit_pb2, backlog_pb2, common_pb2,
                     obligations_pb2, ocait_pb2, policy_pb2, rso_pb2, visits_pb2)

MODULES = (common_pb2, rso_pb2, visits_pb2, ocait_pb2, alerts_pb2, backlog_pb2, obligations_pb2,
           audit_pb2, policy_pb2, admin_pb2)


def _export():
    names = {}
    for module in MODULES:
        file = module.DESCRIPTOR
        for name in list(file.message_types_by_name) + list(file.enum_types_by_name):
            names[name] = getattr(module, name)
        for enum in file.enum_types_by_name.values():
            for value in enum.values:
                names[value.name] = value.number
    return names


globals().update(_export())
__all__ = sorted(n for n in globals() if n[:1].isupper())
