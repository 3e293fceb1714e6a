"""The access policy for residents' personal data: which role may see which residents, which of
their fields, and which numbers unmasked. One table, default deny.

The gateway reads it to decide which roles reach a route at all; the registry reads it again to
narrow every query to the caller's scope and to drop the fields the caller may not see, so a
caller that reaches the registry some other way gets no more. A role missing from the table sees
no resident. The new services (canteen diets, mediation parties, relief applications) apply the
same table to what they hold. ``docs/access-policy.md`` is this table in prose; a test checks
that the two agree.

PIPL asks for the minimum each purpose needs:
- the community office (admin, staff) keeps the registry, so it sees everyone and everything;
- a grid worker cares for the residents of their own grids, door to door, so the same there;
- the canteen enrols diners, prices meals by age and brings them to those who cannot walk: name,
  age, address, language and the tags that decide meals and delivery, numbers masked;
- a volunteer sees the people they are paired with, a mediator the parties of their cases: name,
  address and the masked phone. Pairings and cases belong to the volunteer and mediation services,
  which have not landed; until then their scope is empty and they see nobody here;
- property management, the water plant, the police and patrols reach residents through notices
  (notify works out the recipients), never through lists;
- a resident sees their own record, whole.
"""
from dataclasses import dataclass

from community.roles import COMMUNITY_OFFICE, Role
from heyun.identity import Caller
from registry.contract import Tag

# -- scopes: which residents a role reaches ------------------------------------------------
COMMUNITY = "community"        # every resident
OWN_GRIDS = "own_grids"        # the residents of the buildings in the caller's grids
PAIRED = "paired"              # the residents a volunteer is paired with (volunteer service)
CASE_PARTIES = "case_parties"  # the parties of a mediator's cases (mediation service)
SELF = "self"                  # the caller's own resident record
# Scopes whose source of truth is a service that has not landed: nobody, for now.
PENDING_SCOPES = frozenset({PAIRED, CASE_PARTIES})

# -- the fields of a resident, grouped by what they tell -----------------------------------
IDENTITY = ("id", "name", "gender")
AGE = ("birth_date", "age")
ADDRESS = ("building_id", "building_number", "unit", "floor", "room", "grid_id")
HOUSEHOLD = ("household_id", "relation_to_head")
CONTACT = ("phone",)
ID_NUMBER = ("id_number",)
PREFERENCES = ("language", "preferred_channel")
TAG_FIELD = ("tags",)
ALL_FIELDS = frozenset(IDENTITY + AGE + ADDRESS + HOUSEHOLD + CONTACT + ID_NUMBER + PREFERENCES + TAG_FIELD)
# The numbers stored encrypted; shown unmasked only where the policy says so, each reveal audited.
NUMBERS = frozenset(CONTACT + ID_NUMBER)

# -- tags, by how sensitive they are -------------------------------------------------------
# Health data (sensitive under PIPL): shown, selected by and carried in events (unencrypted)
# only where the policy lists them. One list for every service.
HEALTH_TAGS = frozenset({Tag.MOBILITY_IMPAIRED, Tag.DISABLED})
# Who is vulnerable or poor: a burglar's or a fraudster's list. Community carers only.
WELFARE_TAGS = frozenset({Tag.LIVING_ALONE, Tag.LOW_INCOME, Tag.EMPTY_NESTER, Tag.ELDERLY, Tag.NO_SMARTPHONE})
# How the community is organised around a person: not sensitive beyond the name itself.
CIVIC_TAGS = frozenset({Tag.VETERAN, Tag.PARTY_MEMBER, Tag.BUILDING_HEAD, Tag.RESIDENT_REPRESENTATIVE})
ALL_TAGS = HEALTH_TAGS | WELFARE_TAGS | CIVIC_TAGS


@dataclass(frozen=True)
class ResidentAccess:
    """What a role may see of residents: the ``scopes`` it reaches (none: nobody), the
    ``fields`` shown (others are left out of the answer, not blanked), the ``numbers`` shown
    unmasked and the ``tags`` shown (and so usable as a filter)."""

    scopes: frozenset = frozenset()
    fields: frozenset = frozenset()
    numbers: frozenset = frozenset()
    tags: frozenset = frozenset()

    def __or__(self, other):
        return ResidentAccess(self.scopes | other.scopes, self.fields | other.fields,
                              self.numbers | other.numbers, self.tags | other.tags)


def _access(scope, fields, numbers=(), tags=()):
    return ResidentAccess(frozenset({scope}), frozenset(fields), frozenset(numbers), frozenset(tags))


NO_ACCESS = ResidentAccess()
EVERYTHING = _access(COMMUNITY, ALL_FIELDS, NUMBERS, ALL_TAGS)

RESIDENTS = {
    Role.ADMIN: EVERYTHING,
    Role.STAFF: EVERYTHING,
    Role.GRID_WORKER: _access(OWN_GRIDS, ALL_FIELDS, NUMBERS, ALL_TAGS),
    Role.CANTEEN_STAFF: _access(COMMUNITY, IDENTITY + AGE + ADDRESS + CONTACT + PREFERENCES + TAG_FIELD,
                                tags=HEALTH_TAGS | {Tag.ELDERLY, Tag.LIVING_ALONE}),
    Role.VOLUNTEER: _access(PAIRED, IDENTITY + ADDRESS + CONTACT + PREFERENCES + TAG_FIELD,
                            tags={Tag.ELDERLY, Tag.LIVING_ALONE, Tag.MOBILITY_IMPAIRED, Tag.NO_SMARTPHONE}),
    Role.MEDIATOR: _access(CASE_PARTIES, IDENTITY + ADDRESS + CONTACT + PREFERENCES),
    # Property managers, the water plant's staff, the police, patrol members: not listed, so nobody.
}
# One's own record, whole, whatever else the account may be.
OWN_RECORD = _access(SELF, ALL_FIELDS, NUMBERS, ALL_TAGS)

# Who registers, changes and moves residents and households: the community office anywhere, a
# grid worker within their grids (the registry checks the grid).
RESIDENT_WRITERS = COMMUNITY_OFFICE + (Role.GRID_WORKER,)

# Households tell who lives with whom at which address: the registry's keepers only.
HOUSEHOLD_SCOPES = {Role.ADMIN: COMMUNITY, Role.STAFF: COMMUNITY, Role.GRID_WORKER: OWN_GRIDS}

# Internal work with no user behind it (a command, demo data, another service acting on its own
# behalf) says so explicitly with ``act_as(SYSTEM)``; nothing gets it by default.
SYSTEM = Caller(account="system", roles=(Role.ADMIN,))


def community_wide(caller):
    """Whether ``caller`` sees the whole community rather than one grid (the community office)."""
    return caller.has_role(*COMMUNITY_OFFICE)


def may_see_pii(caller):
    """Whether ``caller`` sees work phones (grid workers', organisations' contacts) unmasked: the
    roles that read residents' ID and phone numbers unmasked (each such read is audited)."""
    return caller.has_role(*roles_with_numbers())


def resident_access(roles):
    """The union of what ``roles`` may see of residents other than oneself (default: nothing)."""
    access = NO_ACCESS
    for role in roles:
        access = access | RESIDENTS.get(role, NO_ACCESS)
    return access


def access_to(caller, resident_id):
    """What ``caller`` may see of the resident ``resident_id`` (their own record: everything)."""
    access = resident_access(caller.roles)
    if caller.resident_id is not None and caller.resident_id == resident_id:
        return access | OWN_RECORD
    return access


def roles_reaching_residents():
    """The roles whose lists of residents may hold anyone (the gateway opens the routes to them;
    a resident reaches only their own record, by id)."""
    return tuple(role for role, access in RESIDENTS.items() if access.scopes)


def household_scopes(roles):
    return frozenset(HOUSEHOLD_SCOPES[role] for role in roles if role in HOUSEHOLD_SCOPES)


def roles_reaching_households():
    return tuple(HOUSEHOLD_SCOPES)


def roles_with_numbers():
    """Roles that see ID and phone numbers unmasked (of the residents in their scope)."""
    return frozenset(role for role, access in RESIDENTS.items() if access.numbers)


def shown(access, record):
    """``record`` (a resident as the registry builds it) with only the fields ``access`` allows,
    its tags narrowed to those it may see."""
    result = {key: value for key, value in record.items() if key in access.fields}
    if "tags" in result:
        result["tags"] = [tag for tag in result["tags"] if tag in access.tags]
    return result


def markdown_table():
    """The table of ``docs/access-policy.md`` (a test keeps the document equal to the code)."""
    groups = [("identity", IDENTITY), ("age", AGE), ("address", ADDRESS), ("household", HOUSEHOLD),
              ("phone", CONTACT), ("ID number", ID_NUMBER), ("preferences", PREFERENCES)]
    lines = ["| role | residents reached | " + " | ".join(name for name, _ in groups) + " | tags | households |",
             "|---" * (len(groups) + 4) + "|"]
    # Those who reach residents first, by how much, then the rest in the order of ``Role``.
    roles = [*RESIDENTS, *(role for role in Role if role not in RESIDENTS)]
    for role in roles:
        access = OWN_RECORD if role is Role.RESIDENT else RESIDENTS.get(role, NO_ACCESS)
        cells = []
        for _, group in groups:
            if not set(group) <= access.fields:
                cells.append("—")
            elif set(group) & NUMBERS:
                cells.append("unmasked" if set(group) <= access.numbers else "masked")
            else:
                cells.append("yes")
        if access.tags == ALL_TAGS:
            tags = "all"
        else:
            tags = ", ".join(sorted(access.tags)) if "tags" in access.fields and access.tags else "—"
        households = ", ".join(sorted(household_scopes([role]))) or "—"
        reached = ", ".join(sorted(access.scopes)) or "nobody"
        lines.append(f"| {role} | {reached} | " + " | ".join(cells) + f" | {tags} | {households} |")
    return "\n".join(lines) + "\n"
