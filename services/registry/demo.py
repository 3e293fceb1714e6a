"""Wanghe community as demo data: 16 six-floor buildings, ~500 households and 1,100+ residents
resettled from Dongxin and Hua'er villages, 4 grids with their workers (Li Na among them), the
organisations the community works with, and the Cheng couple's request to activate their
electronic medical insurance. Generated from a fixed seed, so every run builds the same community.

    python -m registry.demo [DATABASE_URL]
"""
import random
import sys
from datetime import date, timedelta

from sqlalchemy import func, select

from community.policy import SYSTEM
from community.roles import Role
from heyun.config import service_config
from heyun.db import make_engine, make_sessionmaker, transaction
from heyun.identity import Caller
from heyun.pii import Protector
from registry import idnumbers, organizations, places, proxy, residents
from registry.contract import Gender, OrganizationKind, ProxyAction, Tag
from registry.models import Building, Grid, ServiceItem

SEED = 20210701  # the July 2021 water outage
REGION = "370115"  # 济阳区 (Cuizhai street)
VILLAGES = ("东辛村", "花二村")
SURNAMES = "王李张刘陈杨赵黄周吴徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾程袁田董潘于蒋蔡余杜叶"
GIVEN_MALE = "建国伟强军明勇杰涛超磊刚平辉鹏华飞志红林宏庆德福海山成祥文"
GIVEN_FEMALE = "秀英桂兰玉梅淑珍丽娜静芳敏燕霞娟凤琴云莲荣红春兰慧婷雪"
GRID_WORKERS = (("李娜", "gridworker1"), ("王芳", "gridworker2"), ("张伟", "gridworker3"), ("刘洋", "gridworker4"))
ORGANIZATIONS = (
    ("王河社区物业服务中心", OrganizationKind.PROPERTY_MANAGEMENT, [("赵经理", "经理", "13905311001", "property@wanghe.example")]),
    ("崔寨街道供水厂", OrganizationKind.WATER_UTILITY, [("孙调度", "调度室", "13905311002", "dispatch@water.example")]),
    ("崔寨派出所", OrganizationKind.POLICE_STATION, [("周警官", "社区民警", "13905311003", None)]),
    ("社区法律顾问", OrganizationKind.LEGAL_ADVISOR, [("吴律师", "法律顾问", "13905311004", "lawyer@wanghe.example")]),
    ("崔寨街道办事处", OrganizationKind.STREET_OFFICE, [("郑主任", "综治办", "13905311005", None)]),
    ("王河社区调解协会", OrganizationKind.SOCIAL_ORGANIZATION, [("钱会长", "会长", "13905311006", None)]),
    ("王河社区居家养老服务站", OrganizationKind.SOCIAL_ORGANIZATION, [("陈站长", "站长", "13905311007", None)]),
)


class Wanghe:
    """Deterministic generator of the community's people."""

    def __init__(self, seed=SEED):
        self.rng = random.Random(seed)
        self.used_ids = set()

    def name(self, gender, surname=None):
        pool = GIVEN_MALE if gender == Gender.MALE else GIVEN_FEMALE
        given = "".join(self.rng.choice(pool) for _ in range(self.rng.choice((1, 2))))
        return (surname or self.rng.choice(SURNAMES)) + given

    def birth(self, age):
        return date(2026, 6, 30) - timedelta(days=int(age * 365.25) + self.rng.randrange(365))

    def id_number(self, birth, gender):
        while True:
            seq = self.rng.randrange(1000)
            if (seq % 2 == 1) != (gender == Gender.MALE):
                seq = (seq + 1) % 1000
            number = idnumbers.make(REGION, birth, seq)
            if number not in self.used_ids:
                self.used_ids.add(number)
                return number

    def phone(self):
        return f"1{self.rng.choice('3578')}{self.rng.randrange(10**9):09d}"

    def person(self, age, gender, relation, surname=None, smartphone=None):
        birth = self.birth(age)
        tags = []
        real_age = residents.age_on(birth, date(2026, 11, 28))
        if real_age >= 60:
            tags.append(Tag.ELDERLY)
        if real_age >= 75 and self.rng.random() < 0.18:
            tags.append(Tag.MOBILITY_IMPAIRED)
        if self.rng.random() < 0.03:
            tags.append(Tag.DISABLED)
        if gender == Gender.MALE and real_age >= 45 and self.rng.random() < 0.05:
            tags.append(Tag.VETERAN)
        if self.rng.random() < 0.05:
            tags.append(Tag.LOW_INCOME)
        if smartphone is None:
            smartphone = not (real_age >= 70 and self.rng.random() < 0.55)
        if not smartphone:
            tags.append(Tag.NO_SMARTPHONE)
        has_phone = real_age >= 14 and self.rng.random() < 0.92
        return {"name": self.name(gender, surname), "gender": gender, "birth_date": birth,
                "id_number": self.id_number(birth, gender), "phone": self.phone() if has_phone else None,
                "relation_to_head": relation, "tags": tags}

    def household(self):
        """The members of one household: elders, couples with children, three generations."""
        rng = self.rng
        kind = rng.choices(("elder_alone", "elder_couple", "couple_child", "three_generations", "couple"),
                           weights=(18, 30, 24, 8, 20))[0]
        surname = rng.choice(SURNAMES)
        if kind == "elder_alone":
            person = self.person(rng.randint(70, 92), rng.choice((Gender.MALE, Gender.FEMALE)), "户主", surname)
            person["tags"].append(Tag.LIVING_ALONE)
            return [person]
        if kind == "elder_couple":
            age = rng.randint(66, 90)
            return [self.person(age, Gender.MALE, "户主", surname), self.person(age - rng.randint(0, 4), Gender.FEMALE, "配偶")]
        age = rng.randint(28, 58)
        members = [self.person(age, Gender.MALE, "户主", surname), self.person(age - rng.randint(0, 3), Gender.FEMALE, "配偶")]
        if kind in ("couple_child", "three_generations"):
            for _ in range(rng.choice((1, 1, 1, 2))):
                members.append(self.person(rng.randint(1, max(1, age - 22)), rng.choice((Gender.MALE, Gender.FEMALE)),
                                           "子女", surname))
        if kind == "three_generations":
            elder_age = age + rng.randint(24, 32)
            members.append(self.person(elder_age, rng.choice((Gender.MALE, Gender.FEMALE)), "父母", surname))
        return members


def load(database_url=None):
    """Load the demo community into the registry's database once; returns what is there."""
    config = service_config("registry")
    database_url = database_url or config["DATABASE_URL"]
    protector = Protector(config["PII_KEY"])
    engine = make_engine(database_url)
    Session = make_sessionmaker(engine, "registry")
    try:
        with transaction(Session) as session:
            if session.execute(select(func.count()).select_from(Building)).scalar():
                return dict(summary(session), already_loaded=True)
            build(session, protector)
        with transaction(Session) as session:
            return dict(summary(session), already_loaded=False)
    finally:
        engine.dispose()


def build(session, protector):
    gen = Wanghe()
    grids = []
    for index, (worker_name, account) in enumerate(GRID_WORKERS, start=1):
        grid = Grid(name=f"第{'一二三四'[index - 1]}网格")
        session.add(grid)
        session.flush()
        grids.append(grid)
    buildings = []
    for number in range(1, 17):
        building = Building(number=number, name=f"{number}号楼", floors=6, units=2, grid_id=grids[(number - 1) // 4].id)
        session.add(building)
        buildings.append(building)
    session.flush()
    for grid, (worker_name, account) in zip(grids, GRID_WORKERS):
        places.create_grid_worker(session, protector, SYSTEM, {
            "name": worker_name, "account": account, "grid_id": grid.id, "phone": gen.phone()})
    for name, kind, contacts in ORGANIZATIONS:
        organizations.create_organization(session, SYSTEM, {"name": name, "kind": kind, "contacts": [
            {"name": n, "role": r, "phone": p, "email": e} for n, r, p, e in contacts]})

    # Mr and Mrs Cheng: feature phones only, children far away (the story in DOMAIN.md).
    cheng_home = {"building_id": buildings[2].id, "unit": 1, "floor": 3, "room": "301"}
    cheng = [gen.person(78, Gender.MALE, "户主", "程", smartphone=False),
             gen.person(76, Gender.FEMALE, "配偶", smartphone=False)]
    cheng[0]["name"], cheng[1]["name"] = "程建国", "刘秀英"
    household = residents.register_household(session, SYSTEM, {
        "origin_village": "东辛村", "resettled_on": date(2015, 10, 1), "dwelling": cheng_home})
    cheng_ids = [residents.register_resident(session, protector, SYSTEM, dict(
        person, household_id=household["id"], dwelling=cheng_home))["id"] for person in cheng]

    # Everyone else: ~85% of the 576 flats are lived in.
    for building in buildings:
        for unit in (1, 2):
            for floor in range(1, 7):
                for room_no in (1, 2, 3):
                    room = f"{floor}0{room_no}"
                    if (building.id, unit, floor, room) == (cheng_home["building_id"], 1, 3, "301"):
                        continue
                    if gen.rng.random() > 0.85:
                        continue
                    home = {"building_id": building.id, "unit": unit, "floor": floor, "room": room}
                    household = residents.register_household(session, SYSTEM, {
                        "origin_village": gen.rng.choice(VILLAGES),
                        "resettled_on": date(2015, gen.rng.randint(6, 12), gen.rng.randint(1, 28)),
                        "dwelling": home})
                    for person in gen.household():
                        residents.register_resident(session, protector, SYSTEM, dict(
                            person, household_id=household["id"], dwelling=home))

    item = session.execute(select(ServiceItem).where(ServiceItem.code == "MI-02")).scalar_one()
    request = proxy.submit(session, SYSTEM, {
        "resident_id": cheng_ids[0], "service_item_id": item.id,
        "description": "程大爷夫妇只有老年机，子女在外地，无法激活医保电子凭证，医保费交不上。",
        "authorization": {"scope": "通过医保平台亲情账户绑定功能代为激活医保电子凭证并缴费",
                          "valid_until": residents.today() + timedelta(days=90)}})
    li_na = Caller(account="gridworker1", roles=(Role.GRID_WORKER,), grid_ids=(grids[0].id,))
    proxy.transition(session, li_na, request["id"], {"action": ProxyAction.ACCEPT, "note": "李娜上门了解情况"})


def summary(session):
    from registry.models import GridWorker, Household, Organization, Resident

    count = lambda model: session.execute(select(func.count()).select_from(model)).scalar()  # noqa: E731
    seventy = residents.years_before(residents.today(), 70)
    return {
        "buildings": count(Building), "households": count(Household), "residents": count(Resident),
        "aged_70_plus": session.execute(select(func.count()).select_from(Resident)
                                        .where(Resident.birth_date <= seventy)).scalar(),
        "grids": count(Grid), "grid_workers": count(GridWorker), "organizations": count(Organization),
    }


if __name__ == "__main__":
    print(load(sys.argv[1] if len(sys.argv) > 1 else None))
