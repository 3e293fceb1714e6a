"""The roles an account may hold, and the groups of roles the gateway and the services check.

Written once here: the gateway's routes, the accounts it issues, the access policy
(``community.policy``) and the services' own checks all refer to these members.
"""
from enum import StrEnum


class Role(StrEnum):
    ADMIN = "admin"
    STAFF = "staff"                                  # the community office
    GRID_WORKER = "grid_worker"                      # cares for the residents of their grids
    PROPERTY_MANAGER = "property_manager"            # speaks for a property management company
    WATER_UTILITY_STAFF = "water_utility_staff"      # speaks for the water plant
    CANTEEN_STAFF = "canteen_staff"
    MEDIATOR = "mediator"
    POLICE = "police"
    PATROL_MEMBER = "patrol_member"
    VOLUNTEER = "volunteer"
    RESIDENT = "resident"                            # a resident's own account


# The community office: sees every resident and every notice, keeps the registry.
COMMUNITY_OFFICE = (Role.ADMIN, Role.STAFF)
# Every role that works for or with the community: all but a resident's own account.
WORKERS = tuple(role for role in Role if role is not Role.RESIDENT)
# Who publishes, previews, corrects and cancels notices: those who speak to the community.
PUBLISHERS = COMMUNITY_OFFICE + (Role.PROPERTY_MANAGER, Role.WATER_UTILITY_STAFF, Role.POLICE, Role.MEDIATOR)
# Who carries notices door to door (and who oversees it).
DOOR_TO_DOOR = COMMUNITY_OFFICE + (Role.GRID_WORKER,)
# Who works on help-and-proxy requests; a resident asks for their own.
PROXY_USERS = DOOR_TO_DOOR + (Role.RESIDENT,)
# Who creates and changes accounts: an account is a key to everything its roles open.
ACCOUNT_MANAGERS = (Role.ADMIN,)
