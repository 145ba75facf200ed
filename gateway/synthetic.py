"""Synthetic people in hardship in Jiangbei District, Chongqing, for the demo, tests and benchmarks.

Never real data: names come from Faker's zh_CN locale, every number is drawn at random. The people
follow the groups of the Jiangbei notice (seed/notice-en.md, section 4): elderly people who cannot
care for themselves, minors, people with disabilities, the seriously ill, and adults in other
hardship, so that every consent and privacy rule has someone to apply to.

Resident ids follow GB 11643-1999: a 6-digit region code, the birth date, a 3-digit sequence whose
last digit is odd for men and even for women, and an ISO 7064 MOD 11-2 check digit. The region code
is Jiangbei District's 500105 for people born since Chongqing became a municipality (1997); an id
keeps the code of its first registration, so older residents carry Jiangbei's code under Sichuan
(510211, 1983-1996) or Chongqing city's (510220, before 1983), which is also what
``stdnum.cn.ric`` accepts for those birth years.

The same seed (and the same ``today``, from which ages are counted) gives the same people.
"""

from __future__ import annotations

import random
import threading
from dataclasses import dataclass
from datetime import date, timedelta

from faker import Faker
from stdnum.cn import ric

from aidbridge.v1 import cases_pb2, common_pb2

H = common_pb2
STREETS: tuple[str, ...] = (
    "观音桥街道",
    "华新街街道",
    "五里店街道",
    "江北城街道",
    "石马河街道",
    "大石坝街道",
    "寸滩街道",
    "铁山坪街道",
    "郭家沱街道",
    "鱼嘴镇",
    "复盛镇",
    "五宝镇",
)
_ROADS: dict[str, tuple[str, ...]] = {
    "观音桥街道": ("建新北路", "建新东路", "洋河路", "北城天街"),
    "华新街街道": ("华新街", "鲤鱼池路", "嘉陵一村"),
    "五里店街道": ("五红路", "五里店路", "港城路"),
    "江北城街道": ("江北城西大街", "江北城南大街", "聚贤岩路"),
    "石马河街道": ("石马河路", "南桥寺路", "盘溪路"),
    "大石坝街道": ("大石坝路", "石子山路", "渝通路"),
    "寸滩街道": ("寸滩路", "港安路", "海尔路"),
    "铁山坪街道": ("铁山坪路", "东风路"),
    "郭家沱街道": ("郭家沱路", "望江路"),
    "鱼嘴镇": ("鱼嘴大道", "东港路", "长安路"),
    "复盛镇": ("复盛大道", "五宝路"),
    "五宝镇": ("五宝大道", "段山路"),
}
_COMMUNITY_STEMS = (
    "建新", "南桥", "北城", "鲤鱼池", "松树桥", "桥北", "红土地", "望江", "和平", "东升", "花园",
    "滨江", "金源", "兴隆", "长安", "人和", "朝阳", "龙溪", "石门", "东风", "嘉陵", "港城", "盘溪",
    "新村", "青草坝", "刘家台", "五红", "郭家沱", "双溪", "永平",
)  # fmt: skip
# Mainland mobile prefixes in use (MIIT numbering plan): 13x, 15x, 17x, 18x, 19x, and 166.
_MOBILE_PREFIXES = (
    "130", "131", "132", "133", "134", "135", "136", "137", "138", "139", "150", "151", "152",
    "153", "155", "156", "157", "158", "159", "166", "173", "177", "180", "181", "182", "183",
    "185", "186", "187", "188", "189", "191", "198", "199",
)  # fmt: skip
# The minimum-living (低保) line per person per month, as in the policy bundle's income bands.
DIBAO_LINE_FEN = 80_000

_SERIOUS_ILLNESSES = (
    "尿毒症，每周透析三次",
    "肺癌术后，正在化疗",
    "急性白血病，住院治疗中",
    "乳腺癌术后放疗",
    "脑梗后遗症，右侧偏瘫",
    "扩张型心肌病，心衰反复住院",
    "肝癌晚期",
    "淋巴瘤，需长期靶向用药",
)
_CHILD_ILLNESSES = ("急性淋巴细胞白血病，化疗中", "先天性心脏病，待手术", "肾病综合征，长期服药")
_ELDERLY_CONDITIONS = (
    "阿尔茨海默病，生活不能自理",
    "脑梗后遗症，长期卧床",
    "慢阻肺，行动困难",
    "冠心病、高血压，行动不便",
    "糖尿病伴视力下降，需人照料",
    "股骨骨折术后，长期卧床",
)
_CHRONIC = ("高血压", "糖尿病", "慢性胃炎", "腰椎间盘突出", "哮喘")
_DISABILITIES = (
    ("肢体残疾二级", False),
    ("肢体残疾一级（截瘫）", False),
    ("视力残疾一级", False),
    ("听力残疾二级", False),
    ("智力残疾二级", True),
    ("精神残疾一级", True),
    ("多重残疾一级", True),
)  # (text, whether an adult with it is often recorded as lacking capacity)
_CHILD_DISABILITIES = ("孤独症谱系障碍", "脑瘫，肢体残疾二级", "听力残疾一级")
_SUDDEN = ("家中遭遇火灾", "主要劳动力车祸受伤", "失业后无收入来源", "突发重病医疗支出大")
_NEED_WORDS = {
    H.HELP_KIND_MATERIAL: "米面油等生活物资",
    H.HELP_KIND_CASH: "临时救助金",
    H.HELP_KIND_VISITS_AND_CARE: "定期探访照料",
    H.HELP_KIND_PSYCHOLOGICAL: "心理疏导",
    H.HELP_KIND_REHABILITATION: "康复训练",
    H.HELP_KIND_CAPACITY_BUILDING: "技能培训和就业帮扶",
    H.HELP_KIND_INSURANCE: "商业补充医疗保险",
    H.HELP_KIND_MEDICAL: "医疗费用救助",
    H.HELP_KIND_EDUCATION: "助学帮扶",
}

_faker = Faker("zh_CN")
# One Faker for the module (building one costs ~0.1 s); its seed is per case, hence the lock.
_faker_lock = threading.Lock()


@dataclass(frozen=True)
class _Profile:
    """A kind of person the notice names, with the ages it covers and its weight in the mix."""

    kind: str
    ages: tuple[int, int]
    weight: int


_PROFILES = (
    _Profile("child", (2, 13), 18),
    _Profile("teen", (14, 17), 8),
    _Profile("elderly", (70, 95), 22),
    _Profile("disabled", (18, 69), 15),
    _Profile("ill", (18, 69), 17),
    _Profile("adult", (18, 69), 20),
)


def synthetic_case(rng_seed: int, *, today: date | None = None) -> cases_pb2.Case:
    """One synthetic person in hardship; the same seed and ``today`` give the same case."""
    today = today or date.today()
    rng = random.Random(rng_seed)  # noqa: S311 - reproducible synthetic data, not secrets
    with _faker_lock:
        _faker.seed_instance(rng_seed)
        return _Builder(rng, _faker, today).case()


def synthetic_cases(n: int, seed: int = 2026, *, today: date | None = None) -> list[cases_pb2.Case]:
    """``n`` synthetic people with distinct resident ids, reproducible for ``seed``."""
    if n < 0:
        raise ValueError(f"expected a number of cases of 0 or more, got {n}")
    today = today or date.today()
    seeds = random.Random(seed)  # noqa: S311 - reproducible synthetic data, not secrets
    cases: list[cases_pb2.Case] = []
    seen: set[str] = set()
    while len(cases) < n:
        case = synthetic_case(seeds.getrandbits(63), today=today)
        # Two people can draw the same birth date and sequence; a second one is redrawn.
        if case.person.resident_id not in seen:
            seen.add(case.person.resident_id)
            cases.append(case)
    return cases


def resident_id(born: date, male: bool, rng: random.Random) -> str:
    """A GB 11643 resident id of Jiangbei for someone born on ``born``."""
    sequence = rng.randrange(100) * 10 + rng.choice((1, 3, 5, 7, 9) if male else (0, 2, 4, 6, 8))
    body = f"{_region_code(born.year)}{born:%Y%m%d}{sequence:03d}"
    # calc_check_digit ignores the last character it is given: pass a placeholder.
    return body + ric.calc_check_digit(body + "0")


def mobile_number(rng: random.Random) -> str:
    return rng.choice(_MOBILE_PREFIXES) + f"{rng.randrange(10**8):08d}"


def _region_code(birth_year: int) -> str:
    if birth_year >= 1997:
        return "500105"  # 重庆市江北区
    if birth_year >= 1983:
        return "510211"  # 四川省重庆市江北区
    return "510220"  # 四川省重庆市市区


class _Builder:
    """Draws one person, in a fixed order so that a seed always gives the same draws."""

    def __init__(self, rng: random.Random, fake: Faker, today: date) -> None:
        self.rng, self.fake, self.today = rng, fake, today

    def case(self) -> cases_pb2.Case:
        rng = self.rng
        profile = rng.choices(_PROFILES, weights=[p.weight for p in _PROFILES])[0]
        male = rng.random() < 0.5
        born, rid = self._birth(profile.ages, male)
        age = _age(born, self.today)
        surname = self.fake.last_name()
        name = surname + (self.fake.first_name_male() if male else self.fake.first_name_female())
        street = rng.choice(STREETS)
        community = rng.choice(_COMMUNITY_STEMS) + "社区"
        road = f"{rng.choice(_ROADS[street])}{rng.randint(1, 399)}"
        room = f"{rng.randint(1, 33)}{rng.randint(1, 6):02d}"
        address = (
            f"重庆市江北区{street}{community}{road}号"
            f"{rng.randint(1, 30)}栋{rng.randint(1, 4)}单元{room}"
        )
        person = cases_pb2.Person(
            resident_id=rid,
            name=name,
            phone=mobile_number(rng),
            address=address,
            street=street,
            community=community,
            birth_date=born.isoformat(),
            sex=H.SEX_MALE if male else H.SEX_FEMALE,
        )
        case = cases_pb2.Case(person=person)
        fill = {
            "child": self._child,
            "teen": self._teen,
            "elderly": self._elderly,
            "disabled": self._disabled,
            "ill": self._ill,
            "adult": self._adult,
        }[profile.kind]
        fill(case, age, surname)
        case.monthly_income_fen = self._income(case.assistance_status, case.household_size)
        case.narrative = self._narrative(case, age)
        return case

    # -- the groups of the notice -------------------------------------------------------------

    def _child(self, case: cases_pb2.Case, age: int, surname: str) -> None:
        rng = self.rng
        case.special_groups.append(H.SPECIAL_GROUP_MINOR)
        case.needs.extend([H.HELP_KIND_EDUCATION, H.HELP_KIND_MATERIAL])
        # Under 14 a guardian consents (PIPL Art. 31), so there is always a parent to name.
        self._relative(case, rng.choice(("母亲", "父亲")), surname)
        if rng.random() < 0.4:
            self._relative(case, rng.choice(("祖母", "祖父", "外婆")), surname)
        self._minor_hardship(case)

    def _teen(self, case: cases_pb2.Case, age: int, surname: str) -> None:
        rng = self.rng
        case.special_groups.append(H.SPECIAL_GROUP_MINOR)
        case.needs.extend([H.HELP_KIND_EDUCATION, H.HELP_KIND_PSYCHOLOGICAL])
        if rng.random() < 0.85:
            self._relative(case, rng.choice(("母亲", "父亲", "祖母")), surname)
        self._minor_hardship(case)

    def _minor_hardship(self, case: cases_pb2.Case) -> None:
        rng = self.rng
        case.hardship_types.append(H.HARDSHIP_TYPE_EDUCATION)
        roll = rng.random()
        if roll < 0.2:
            case.special_groups.append(H.SPECIAL_GROUP_SERIOUSLY_ILL)
            case.hardship_types.append(H.HARDSHIP_TYPE_SERIOUS_ILLNESS)
            case.health_condition = rng.choice(_CHILD_ILLNESSES)
            case.needs.append(H.HELP_KIND_MEDICAL)
            case.severity = H.SEVERITY_URGENT
        elif roll < 0.35:
            case.special_groups.append(H.SPECIAL_GROUP_DISABLED)
            case.hardship_types.append(H.HARDSHIP_TYPE_DISABILITY)
            case.disability = rng.choice(_CHILD_DISABILITIES)
            case.needs.append(H.HELP_KIND_REHABILITATION)
            case.severity = H.SEVERITY_HIGH
        else:
            case.severity = rng.choice((H.SEVERITY_LOW, H.SEVERITY_MEDIUM, H.SEVERITY_HIGH))
        case.household_size = rng.randint(2, 5)
        self._assistance(case, {"低保": 5, "低保边缘": 3, "无": 2})

    def _elderly(self, case: cases_pb2.Case, age: int, surname: str) -> None:
        rng = self.rng
        case.special_groups.append(H.SPECIAL_GROUP_ELDERLY_DEPENDENT)
        case.health_condition = rng.choice(_ELDERLY_CONDITIONS)
        case.lacks_capacity = "阿尔茨海默" in case.health_condition and rng.random() < 0.8
        case.needs.extend([H.HELP_KIND_VISITS_AND_CARE, H.HELP_KIND_MATERIAL])
        if rng.random() < 0.4:
            case.needs.append(H.HELP_KIND_REHABILITATION)
        alone = rng.random() < 0.45
        case.household_size = 1 if alone else rng.randint(2, 3)
        if alone:
            # Living alone with no one to support them is what 特困 供养 covers.
            self._assistance(case, {"特困": 6, "低保": 3, "无": 1})
        else:
            self._assistance(case, {"低保": 5, "低保边缘": 3, "无": 2})
        if case.lacks_capacity or rng.random() < 0.6:
            self._relative(case, rng.choice(("儿子", "女儿", "侄子")), surname)
        if not alone and rng.random() < 0.5:
            self._relative(case, "配偶", surname)
        case.severity = rng.choice((H.SEVERITY_MEDIUM, H.SEVERITY_HIGH, H.SEVERITY_URGENT))

    def _disabled(self, case: cases_pb2.Case, age: int, surname: str) -> None:
        rng = self.rng
        text, often_incapable = rng.choice(_DISABILITIES)
        case.special_groups.append(H.SPECIAL_GROUP_DISABLED)
        case.hardship_types.append(H.HARDSHIP_TYPE_DISABILITY)
        case.disability = text
        case.lacks_capacity = often_incapable and rng.random() < 0.6
        if rng.random() < 0.6:
            case.health_condition = rng.choice(_CHRONIC)
        case.needs.extend([H.HELP_KIND_REHABILITATION, H.HELP_KIND_CAPACITY_BUILDING])
        case.household_size = rng.randint(1, 4)
        self._assistance(case, {"低保": 5, "特困": 1, "低保边缘": 2, "无": 2})
        if case.lacks_capacity:
            # An adult without capacity is represented by a guardian (Civil Code Art. 28).
            self._relative(case, rng.choice(("父亲", "母亲", "配偶", "兄弟")), surname)
        elif rng.random() < 0.5:
            self._relative(case, rng.choice(("配偶", "母亲", "女儿")), surname)
        case.severity = rng.choice((H.SEVERITY_MEDIUM, H.SEVERITY_HIGH))

    def _ill(self, case: cases_pb2.Case, age: int, surname: str) -> None:
        rng = self.rng
        case.special_groups.append(H.SPECIAL_GROUP_SERIOUSLY_ILL)
        case.hardship_types.append(H.HARDSHIP_TYPE_SERIOUS_ILLNESS)
        case.health_condition = rng.choice(_SERIOUS_ILLNESSES)
        case.needs.extend([H.HELP_KIND_MEDICAL, H.HELP_KIND_CASH])
        if rng.random() < 0.5:
            case.needs.append(H.HELP_KIND_INSURANCE)
        if rng.random() < 0.3:
            case.needs.append(H.HELP_KIND_PSYCHOLOGICAL)
        case.household_size = rng.randint(1, 5)
        self._assistance(case, {"低保": 4, "低保边缘": 4, "无": 3})
        for _ in range(rng.choice((0, 1, 1, 2))):
            self._relative(case, rng.choice(("配偶", "儿子", "女儿", "母亲")), surname)
        case.severity = rng.choice((H.SEVERITY_HIGH, H.SEVERITY_URGENT))

    def _adult(self, case: cases_pb2.Case, age: int, surname: str) -> None:
        rng = self.rng
        kind = rng.choice((H.HARDSHIP_TYPE_SUDDEN_DIFFICULTY, H.HARDSHIP_TYPE_HOUSING, None))
        if kind is not None:
            case.hardship_types.append(kind)
        case.needs.extend(
            rng.sample(
                [H.HELP_KIND_MATERIAL, H.HELP_KIND_CASH, H.HELP_KIND_CAPACITY_BUILDING],
                k=rng.randint(1, 2),
            )
        )
        if rng.random() < 0.35:
            case.health_condition = rng.choice(_CHRONIC)
        case.household_size = rng.randint(1, 5)
        self._assistance(case, {"低保": 3, "低保边缘": 4, "无": 4})
        for _ in range(rng.choice((0, 0, 1, 2))):
            self._relative(case, rng.choice(("配偶", "儿子", "女儿", "母亲", "父亲")), surname)
        case.severity = rng.choice((H.SEVERITY_LOW, H.SEVERITY_MEDIUM, H.SEVERITY_HIGH))

    # -- shared pieces ------------------------------------------------------------------------

    def _birth(self, ages: tuple[int, int], male: bool) -> tuple[date, str]:
        age = self.rng.randint(*ages)
        # A birthday between (today - age - 1 years, today - age years]: age ``age`` today.
        latest = _years_before(self.today, age)
        born = latest - timedelta(days=self.rng.randrange(365))
        rid = resident_id(born, male, self.rng)
        # stdnum's region table ends with its release; a child born after it is not yet listed,
        # so such a birth is moved back a year rather than giving an id the gateway refuses.
        while not ric.is_valid(rid) and age < ages[1]:
            age += 1
            born = _years_before(born, 1)
            rid = resident_id(born, male, self.rng)
        if not ric.is_valid(rid):
            raise RuntimeError(f"no valid Jiangbei resident id for a birth on {born}")
        return born, rid

    def _relative(self, case: cases_pb2.Case, relationship: str, surname: str) -> None:
        if len(case.relatives) >= 2 or any(r.relationship == relationship for r in case.relatives):
            return
        # A family name passes from father to child: a father, grandfather or brother shares the
        # person's; children and nephews share a man's; mothers and spouses usually do not.
        shares_name = relationship in ("父亲", "祖父", "兄弟") or (
            relationship in ("儿子", "女儿", "侄子") and case.person.sex == H.SEX_MALE
        )
        male = relationship in ("父亲", "祖父", "兄弟", "儿子", "侄子") or (
            relationship == "配偶" and case.person.sex == H.SEX_FEMALE
        )
        family = surname if shares_name else self.fake.last_name()
        given = self.fake.first_name_male() if male else self.fake.first_name_female()
        case.relatives.append(cases_pb2.Relative(name=family + given, relationship=relationship))

    def _assistance(self, case: cases_pb2.Case, weights: dict[str, int]) -> None:
        status = self.rng.choices(list(weights), weights=list(weights.values()))[0]
        case.assistance_status = status
        implied = {
            "低保": H.HARDSHIP_TYPE_MINIMUM_LIVING,
            "特困": H.HARDSHIP_TYPE_EXTREME_POVERTY,
            "低保边缘": H.HARDSHIP_TYPE_LOW_INCOME,
        }.get(status)
        if implied is not None:
            case.hardship_types.insert(0, implied)
        elif not case.hardship_types:
            case.hardship_types.append(H.HARDSHIP_TYPE_SUDDEN_DIFFICULTY)

    def _income(self, status: str, household: int) -> int:
        # Per-person income against the 低保 line: below it for 低保, up to 1.5x at the margin,
        # near nothing for 特困, anywhere up to 2.5x for those receiving nothing (yet).
        low, high = {"低保": (0.1, 0.95), "特困": (0.0, 0.3), "低保边缘": (1.0, 1.5)}.get(
            status, (0.3, 2.5)
        )
        per_person = DIBAO_LINE_FEN * self.rng.uniform(low, high)
        return int(per_person * household) // 100 * 100  # whole yuan

    def _narrative(self, case: cases_pb2.Case, age: int) -> str:
        rng, p = self.rng, case.person
        visit = self.today - timedelta(days=rng.randint(3, 90))
        who = "男" if p.sex == H.SEX_MALE else "女"
        parts = [f"{visit.year}年{visit.month}月{visit.day}日入户走访：{p.name}，{who}，{age}岁，"]
        parts.append(f"住{p.community}。")
        if case.health_condition:
            parts.append(f"{_pronoun(p.sex)}患{case.health_condition}。")
        if case.disability:
            parts.append(f"持有残疾证（{case.disability}）。")
        if case.household_size == 1:
            parts.append("独自居住，无人照料。")
        else:
            parts.append(f"家庭共{case.household_size}口人，")
            parts.append(f"月收入约{case.monthly_income_fen // 100}元。")
        if case.assistance_status != "无":
            parts.append(f"现享受{case.assistance_status}待遇。")
        else:
            parts.append("尚未纳入救助范围，建议协助申请。")
        if case.relatives and rng.random() < 0.6:
            relative = rng.choice(list(case.relatives))
            parts.append(f"{relative.relationship}{relative.name}{_relative_note(rng)}。")
        if case.needs:
            wanted = "、".join(_NEED_WORDS[n] for n in case.needs[:2] if n in _NEED_WORDS)
            parts.append(f"{p.name}希望得到{wanted}。")
        if rng.random() < 0.35:
            parts.append(f"联系电话{p.phone}。")
        if rng.random() < 0.2:
            # Digits straight after Chinese text: there is no \b here for a scrubber to lean on.
            parts.append(f"身份证号{p.resident_id}，已核实。")
        if H.HARDSHIP_TYPE_SUDDEN_DIFFICULTY in case.hardship_types:
            parts.append(f"近期{rng.choice(_SUDDEN)}。")
        return "".join(parts)


def _relative_note(rng: random.Random) -> str:
    return rng.choice(
        (
            "在外务工，每月回家一次",
            "陪同接受了访谈",
            "身体也不好，照料能力有限",
            "表示愿意配合后续帮扶",
            "是主要照料人",
        )
    )


def _pronoun(sex: int) -> str:
    return "他" if sex == H.SEX_MALE else "她"


def _age(born: date, day: date) -> int:
    return day.year - born.year - ((day.month, day.day) < (born.month, born.day))


def _years_before(day: date, years: int) -> date:
    try:
        return day.replace(year=day.year - years)
    except ValueError:  # 29 February in a year without one
        return day.replace(year=day.year - years, day=28)


# -- identifiers written the way caseworkers and adversaries write them ---------------------------

_FULL_WIDTH = str.maketrans("0123456789Xx", "０１２３４５６７８９Ｘｘ")
_NUMERALS = ("〇一二三四五六七八九", "零幺两三四五六七八九", "零壹贰叁肆伍陆柒捌玖")
_GROUP_SEPARATORS = (" ", "-", ".", "/", " - ", "　", "－", "．", "—", "·")
# Every way ``written_number`` can write a number; a leak scan can ask for each in turn.
NUMBER_FORMS = (
    "plain",
    "grouped",
    "full-width",
    "numerals",
    "mixed",
    "zero-width",
    "irregular-groups",
    "pieces",
)
# What stands between the pieces of a number written in words ("138，中间1234，后四位5678").
BETWEEN_PIECES = ("，中间", "，然后是", "，接着", "，后四位", "（后面）", "再", "，尾号")


def written_number(digits: str, rng: random.Random, form: str | None = None) -> str:
    """``digits`` (a resident id, phone or card) written in one of ``NUMBER_FORMS``: in groups
    with spaces, dashes, dots or slashes (also full-width), in full-width digits, in Chinese
    numerals (〇一二, 幺, 两, 壹贰叁), mixed digit by digit, with zero-width spaces, split
    at random places, or in pieces with words between them."""
    form = form or rng.choice(NUMBER_FORMS)
    if form not in NUMBER_FORMS:
        raise ValueError(f"expected a form in {NUMBER_FORMS}, got {form!r}")
    if form == "plain":
        return digits
    if form == "grouped":
        sizes = {18: (6, 4, 4, 4), 15: (6, 6, 3), 11: (3, 4, 4)}.get(len(digits), (4,) * 5)
        return _grouped(digits, sizes, rng.choice(_GROUP_SEPARATORS))
    if form == "full-width":
        return digits.translate(_FULL_WIDTH)
    if form == "numerals":
        table = rng.choice(_NUMERALS)
        return "".join(table[int(d)] if d.isdigit() else d for d in digits)
    if form == "mixed":
        table = rng.choice(_NUMERALS)
        return "".join(
            rng.choice((d, d.translate(_FULL_WIDTH), table[int(d)] if d.isdigit() else d))
            for d in digits
        )
    if form == "zero-width":
        return "\u200b".join(digits)
    if form == "pieces":
        cuts = sorted(rng.sample(range(3, len(digits) - 2), k=rng.randint(1, 3)))
    else:
        cuts = sorted(rng.sample(range(1, len(digits)), k=min(3, len(digits) - 1)))
    pieces = [digits[a:b] for a, b in zip([0, *cuts], [*cuts, len(digits)], strict=True)]
    if form == "pieces":
        return "".join(
            piece if i == 0 else rng.choice(BETWEEN_PIECES) + piece
            for i, piece in enumerate(pieces)
        )
    return rng.choice(_GROUP_SEPARATORS).join(pieces)


def _grouped(digits: str, sizes: tuple[int, ...], separator: str) -> str:
    pieces, at = [], 0
    for size in sizes:
        if at >= len(digits):
            break
        pieces.append(digits[at : at + size])
        at += size
    if at < len(digits):
        pieces.append(digits[at:])
    return separator.join(pieces)


def bank_card(rng: random.Random) -> str:
    """A 16 or 19 digit card number under a UnionPay-like 62 prefix, with a Luhn check digit."""
    from stdnum import luhn

    body = "62" + "".join(str(rng.randrange(10)) for _ in range(rng.choice((13, 16))))
    return body + luhn.calc_check_digit(body)


@dataclass(frozen=True)
class WrittenNote:
    """A note and the identifiers it wrote that the case record does not hold."""

    text: str
    bank_card: str
    email: str
    wechat: str


_MAIL_DOMAINS = ("qq.com", "163.com", "126.com", "sina.com", "foxmail.com", "139.com")
_LETTERS = "abcdefghijklmnopqrstuvwxyz"


def email_address(rng: random.Random) -> str:
    local = "".join(rng.choice(_LETTERS) for _ in range(rng.randint(3, 8)))
    return f"{local}{rng.randrange(10, 100000)}@{rng.choice(_MAIL_DOMAINS)}"


def wechat_id(rng: random.Random) -> str:
    """A WeChat id as Tencent allows them: a letter, then 5 to 19 letters, digits, _ or -."""
    head = rng.choice(("wxid_", "", "", "vx_"))
    body = "".join(rng.choice(_LETTERS + "0123456789_-") for _ in range(rng.randint(5, 12)))
    return head + rng.choice(_LETTERS) + body


def written_email(address: str, rng: random.Random) -> str:
    """``address`` as people write it to get past a filter: (at), 艾特, 点, full-width @."""
    local, domain = address.split("@")
    at = rng.choice(("@", "＠", "(at)", " 艾特 ", "[at]"))
    if rng.random() < 0.4:
        domain = domain.replace(".", rng.choice(("点", "(dot)", " . ")))
    return local + at + domain


def written_note(
    case: cases_pb2.Case, rng: random.Random, *, min_length: int = 200, form: str | None = None
) -> WrittenNote:
    """A caseworker's note of ``min_length`` characters or a little more about ``case``'s person
    that writes their resident id, phone, a bank card, the street part of the address, an e-mail
    address, a WeChat id and the names of the person and their relatives, the numbers each in
    ``form`` (one of ``NUMBER_FORMS``) or a random one; ordinary sentences fill it up to length."""
    p = case.person
    road = p.address.split(p.community, 1)[-1] if p.community in p.address else p.address
    card, email, wechat = bank_card(rng), email_address(rng), wechat_id(rng)
    pieces = [
        f"{rng.choice(('今日入户走访', '电话回访', '社区反映'))}：{p.name}，"
        f"住{p.community}{road if rng.random() < 0.5 else ''}。",
        f"身份证{rng.choice(('', '号', '号码', '：'))}{written_number(p.resident_id, rng, form)}，"
        "与户籍系统核对一致。",
        f"{rng.choice(('联系电话', '手机号', '电话', 'tel:'))}"
        f"{written_number(p.phone, rng, form)}，"
        f"{rng.choice(('本人使用', '白天可接通', '微信同号'))}。",
        f"住址：{road}，{rng.choice(('楼道狭窄', '房屋老旧漏雨', '无电梯，上下楼困难'))}。",
        f"救助金发放至{rng.choice(('本人', '代理人'))}银行卡{written_number(card, rng, form)}。",
        f"{rng.choice(('邮箱', '电子邮件', 'email：'))}{written_email(email, rng)}，"
        f"{rng.choice(('微信', '微信号', 'vx', 'wx：'))}{wechat}。",
    ]
    for relative in case.relatives:
        pieces.append(
            f"{relative.relationship}{relative.name}{_relative_note(rng)}，"
            f"其电话{written_number(mobile_number(rng), rng, form)}。"
        )
    filler = (
        "家中经济来源主要依靠临时务工收入，开支以医药费为主。",
        "屋内陈设简陋，冬季取暖困难，需要棉被和取暖器。",
        "本人情绪低落，对后续治疗费用十分担忧。",
        "社区网格员每周上门一次，了解生活情况。",
        "已告知相关救助政策，建议尽快补充申请材料。",
        f"{p.name}表示愿意配合后续帮扶工作。",
    )
    rng.shuffle(pieces)
    note = "".join(pieces)
    while len(note) < min_length:
        for sentence in rng.sample(filler, len(filler)):
            if len(note) >= min_length:
                break
            note += sentence
    return WrittenNote(note, card, email, wechat)


def obfuscated_note(case: cases_pb2.Case, rng: random.Random, *, min_length: int = 200) -> str:
    """The text of a ``written_note`` about ``case``'s person."""
    return written_note(case, rng, min_length=min_length).text
