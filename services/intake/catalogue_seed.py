"""The reform's catalogue of delegated matters (目录清单), as admission proposals.

`reform_catalogue()` returns one `ProposeMatter` (kind ``"new"``) per matter, in a stable order:
street level first, then community level, then district level; inside a level, category by
category in table order, matter by matter in table order. The function is pure and
deterministic: no I/O, no randomness, no clock.

What the reform document says (成华区全面启动街道综合管理体制改革, 2012-06-08, measure 三)
-----------------------------------------------------------------------------------------
"采取授权或委托等形式，将区级部门承担的有关民政事务、社会保险、计划生育等9大类77项工作事项下沉到
街道办理，将住房保障、教育文体、综治维稳等9大类75项工作事项下沉到社区办理。"

So the document gives, and this module keeps exactly:

* street level: **9 categories, 77 items**, three categories named: 民政事务 civil affairs,
  社会保险 social insurance, 计划生育 family planning;
* community level: **9 categories, 75 items**, three categories named: 住房保障 housing
  security, 教育文体 education/culture/sports, 综治维稳 comprehensive governance and stability;
* the two delegation modes, authorization 授权 and entrustment 委托;
* the admission procedure (department applies -> relevant departments review together -> the
  district government approves), which is why every matter is a `ProposeMatter`.

Provenance rule: what is `sourced` and what is illustrative
-----------------------------------------------------------
* A **category** is sourced at a level when the document names it as a category of that
  level: exactly the three names per level quoted above (`SOURCED_CATEGORIES`). The same
  category used at another level (e.g. 民政事务 at community level) is *not* sourced there.
* A **matter** (`MatterTerms.sourced`) is sourced only when the document itself names that
  matter. The document names no individual matter, so `SOURCED_MATTERS` is empty and every
  matter here has ``sourced=False`` - including the matters filed under a sourced category:
  the category name is sourced, the matter names inside it are not.
* Illustrative (plausible for Chinese street offices and community service stations around
  2012, not a record of Chenghua's actual list): the other six categories per level, every
  matter and its names, the delegation mode of each matter, time limits, required materials,
  the originating and reviewing departments, and all district-level (refer-only) matters.
  District-level matters are not delegated at all; they carry ``delegation="entrustment"``
  only because the field is required (the window at most receives papers on the department's
  behalf), and they are not counted in the 9/77 and 9/75.
"""

from __future__ import annotations

from typing import NamedTuple

from services.intake.commands import (
    Category,
    Delegation,
    Department,
    Level,
    Material,
    MatterTerms,
    ProposeMatter,
)

# --------------------------------------------------------------------------------------------
# Shared tables
# --------------------------------------------------------------------------------------------

#: The figures the document gives: level -> (categories, items).
DOCUMENT_COUNTS: dict[Level, tuple[int, int]] = {"street": (9, 77), "community": (9, 75)}

#: Categories the document names, per level, in the document's order (code, as in CATEGORIES).
SOURCED_CATEGORIES: dict[Level, tuple[str, ...]] = {
    "street": ("civil_affairs", "social_insurance", "family_planning"),
    "community": ("housing_security", "education_culture_sports", "comprehensive_governance"),
    "district": (),
}

#: Matter codes the document names individually: none (see the module docstring).
SOURCED_MATTERS: frozenset[str] = frozenset()

#: District departments and offices: code -> (name_zh, name_en).
DEPARTMENTS: dict[str, tuple[str, str]] = {
    "civil_affairs": ("成华区民政局", "Chenghua District Civil Affairs Bureau"),
    "hrss": ("成华区人力资源和社会保障局",
             "Chenghua District Human Resources and Social Security Bureau"),
    "population_fp": ("成华区人口和计划生育局",
                      "Chenghua District Population and Family Planning Bureau"),
    "housing_admin": ("成华区房产管理局", "Chenghua District Housing Administration Bureau"),
    "education": ("成华区教育局", "Chenghua District Education Bureau"),
    "culture_sports": ("成华区文化体育局", "Chenghua District Culture and Sports Bureau"),
    "comprehensive_governance": ("成华区社会治安综合治理委员会办公室",
                                 "Chenghua District Comprehensive Governance Office"),
    "justice": ("成华区司法局", "Chenghua District Justice Bureau"),
    "public_security": ("成都市公安局成华区分局",
                        "Chenghua Sub-bureau of the Chengdu Public Security Bureau"),
    "petitions": ("成华区信访局", "Chenghua District Letters and Visits Bureau"),
    "disabled_federation": ("成华区残疾人联合会", "Chenghua District Disabled Persons' Federation"),
    "ageing_office": ("成华区老龄工作委员会办公室", "Chenghua District Office on Ageing"),
    "urban_management": ("成华区城市管理局", "Chenghua District Urban Management Bureau"),
    "work_safety": ("成华区安全生产监督管理局",
                    "Chenghua District Work Safety Supervision Bureau"),
    "health": ("成华区卫生局", "Chenghua District Health Bureau"),
    "industry_commerce": ("成都市工商行政管理局成华分局",
                          "Chenghua Sub-bureau of the Chengdu Administration for Industry and "
                          "Commerce"),
    "planning": ("成都市规划管理局成华分局",
                 "Chenghua Sub-bureau of the Chengdu Planning Bureau"),
    "legal_affairs": ("成华区人民政府法制办公室",
                      "Legal Affairs Office of the Chenghua District Government"),
    "establishment": ("成华区机构编制委员会办公室",
                      "Chenghua District Commission Office for Public Sector Reform"),
    "finance": ("成华区财政局", "Chenghua District Finance Bureau"),
}

#: Required materials: code -> (name_zh, name_en).
MATERIALS: dict[str, tuple[str, str]] = {
    "id_card": ("居民身份证", "Resident identity card"),
    "household_register": ("居民户口簿", "Household register (hukou booklet)"),
    "photo": ("近期免冠照片", "Recent bareheaded photos"),
    "application_form": ("申请表", "Application form"),
    "statement": ("书面情况说明", "Written statement of the situation"),
    "marriage_cert": ("结婚证", "Marriage certificate"),
    "birth_cert": ("出生医学证明", "Medical certificate of birth"),
    "death_cert": ("死亡证明", "Death certificate"),
    "income_proof": ("家庭收入证明", "Household income statement"),
    "housing_status_proof": ("住房状况证明", "Housing situation statement"),
    "property_cert": ("房屋所有权证", "Property ownership certificate"),
    "tenancy_contract": ("房屋租赁合同", "Tenancy contract"),
    "residence_permit": ("居住证", "Residence permit"),
    "bank_passbook": ("银行存折", "Bank passbook"),
    "allowance_cert": ("最低生活保障证", "Minimum living allowance certificate"),
    "medical_record": ("医院诊断证明", "Hospital diagnosis certificate"),
    "expense_receipts": ("医疗费用票据", "Medical expense receipts"),
    "disability_cert": ("残疾人证", "Disability certificate"),
    "retirement_cert": ("退休证", "Retirement certificate"),
    "labour_contract": ("劳动合同", "Labour contract"),
    "termination_proof": ("解除或终止劳动合同证明", "Proof of termination of the labour contract"),
    "employment_card": ("就业失业登记证", "Employment and unemployment registration card"),
    "only_child_cert": ("独生子女父母光荣证", "Only-child parents' certificate of honour"),
    "marriage_fertility_cert": ("流动人口婚育证明",
                                "Migrant's marriage and childbearing certificate"),
    "birth_service_cert": ("生育服务证", "Birth service certificate"),
    "discharge_cert": ("退伍证", "Discharge certificate"),
    "enlistment_notice": ("入伍通知书", "Enlistment notice"),
    "resettlement_proof": ("征地安置证明", "Land acquisition resettlement certificate"),
    "student_proof": ("学生证或在读证明", "Student card or proof of enrolment"),
    "business_licence": ("营业执照", "Business licence"),
    "site_plan": ("场地平面示意图", "Site plan"),
    "design_drawing": ("设计效果图", "Design drawings"),
    "safety_rules": ("安全生产管理制度", "Work-safety management rules"),
    "training_cert": ("安全培训合格证", "Safety training certificate"),
    "activity_plan": ("活动方案", "Activity plan"),
    "charter": ("组织章程", "Charter of the organization"),
    "court_judgment": ("判决书或裁定书", "Court judgment or ruling"),
    "release_cert": ("释放证明书", "Certificate of release from prison"),
    "rehab_decision": ("社区戒毒社区康复决定书",
                       "Decision on community drug treatment or rehabilitation"),
    "dog_vaccine_cert": ("犬只免疫证明", "Dog vaccination certificate"),
    "migration_permit": ("准予迁入证明", "Permit to move in (hukou)"),
    "land_use_permit": ("建设用地规划许可证", "Planning permit for construction land"),
    "health_cert": ("从业人员健康证明", "Health certificates of staff"),
}


class CategoryRow(NamedTuple):
    short: str  # the middle part of a matter code
    name_zh: str
    name_en: str
    department: str  # the usual originating department
    reviewers: tuple[str, ...]  # usual joint reviewers (legality, staffing, funding, peers)


#: Categories: code -> row. Shared across levels; sourcing is per level (SOURCED_CATEGORIES).
CATEGORIES: dict[str, CategoryRow] = {
    "civil_affairs": CategoryRow("civil", "民政事务", "Civil affairs", "civil_affairs",
                                 ("legal_affairs", "finance")),
    "social_insurance": CategoryRow("insurance", "社会保险", "Social insurance", "hrss",
                                    ("legal_affairs", "finance")),
    "family_planning": CategoryRow("fp", "计划生育", "Family planning", "population_fp",
                                   ("legal_affairs", "health")),
    "employment": CategoryRow("employment", "劳动就业", "Labour and employment", "hrss",
                              ("legal_affairs", "establishment")),
    "labour_security": CategoryRow("labour", "劳动保障", "Labour and social security", "hrss",
                                   ("legal_affairs", "establishment")),
    "disability": CategoryRow("disability", "残疾人服务", "Services for disabled people",
                              "disabled_federation", ("civil_affairs", "legal_affairs")),
    "elderly": CategoryRow("elderly", "老龄服务", "Services for the elderly", "ageing_office",
                           ("civil_affairs", "legal_affairs")),
    "housing_security": CategoryRow("housing", "住房保障", "Housing security", "housing_admin",
                                    ("civil_affairs", "legal_affairs", "finance")),
    "urban_management": CategoryRow("urban", "城市管理", "Urban management",
                                    "urban_management", ("legal_affairs", "establishment")),
    "work_safety": CategoryRow("safety", "安全生产", "Work safety", "work_safety",
                               ("legal_affairs", "establishment")),
    "education_culture_sports": CategoryRow("edu", "教育文体",
                                            "Education, culture and sports", "culture_sports",
                                            ("education", "legal_affairs", "finance")),
    "comprehensive_governance": CategoryRow("gov", "综治维稳",
                                            "Comprehensive governance and stability",
                                            "comprehensive_governance",
                                            ("justice", "legal_affairs", "establishment")),
    "business_registration": CategoryRow("business", "工商登记", "Business registration",
                                         "industry_commerce", ("legal_affairs",)),
    "planning_construction": CategoryRow("planning", "规划建设", "Planning and construction",
                                         "planning", ("legal_affairs",)),
    "household_registration": CategoryRow("hukou", "户籍管理", "Household registration",
                                          "public_security", ("legal_affairs",)),
    "health_licensing": CategoryRow("health", "卫生许可", "Health licensing", "health",
                                    ("legal_affairs",)),
}

# --------------------------------------------------------------------------------------------
# Matter tables
# --------------------------------------------------------------------------------------------

A: Delegation = "authorization"  # 授权: the street/community acts in its own name
E: Delegation = "entrustment"  # 委托: it acts in the district department's name


class M(NamedTuple):
    """One matter: slug (last part of its code), names, mode, working days, materials."""

    slug: str
    name_zh: str
    name_en: str
    delegation: Delegation
    days: int
    materials: str  # space-separated MATERIALS codes
    department: str | None = None  # originating department if not the category's


#: Street level (街道办事处): 9 categories, 77 items.
STREET_MATTERS: dict[str, tuple[M, ...]] = {
    "civil_affairs": (
        M("minimum_allowance", "城市居民最低生活保障审核",
          "Review of urban minimum living allowance applications",
          A, 20, "id_card household_register income_proof application_form photo"),
        M("rural_minimum_allowance", "农村居民最低生活保障审核",
          "Review of rural minimum living allowance applications",
          A, 20, "id_card household_register income_proof application_form photo"),
        M("temporary_assistance", "临时救助审核", "Review of temporary assistance applications",
          E, 10, "id_card household_register application_form statement"),
        M("medical_assistance", "城乡医疗救助审核",
          "Review of urban and rural medical assistance applications",
          E, 15, "id_card household_register medical_record expense_receipts allowance_cert"),
        M("five_guarantees", "农村五保供养审核",
          "Review of rural \"five guarantees\" support applications",
          A, 20, "id_card household_register application_form"),
        M("entitled_pension", "优抚对象定期抚恤补助申报",
          "Periodic pensions and subsidies for entitled groups",
          E, 15, "id_card household_register discharge_cert"),
        M("conscript_family_allowance", "义务兵家庭优待金申领",
          "Preferential allowance for families of conscripts",
          E, 15, "id_card household_register enlistment_notice"),
        M("funeral_fee_waiver", "基本殡葬服务费用减免申请",
          "Waiver of basic funeral service fees", E, 5, "id_card household_register death_cert"),
        M("low_income_household", "城市低收入家庭认定审核",
          "Review of urban low-income household recognition",
          E, 20, "id_card household_register income_proof application_form"),
        M("orphan_allowance", "孤儿基本生活费申领", "Basic living allowance for orphans",
          E, 15, "household_register death_cert photo application_form"),
        M("disaster_relief", "自然灾害生活救助申报", "Natural disaster living relief",
          E, 10, "id_card household_register statement"),
        M("social_org_filing", "社区社会组织备案初审",
          "Preliminary review of community social organization filings",
          E, 15, "application_form charter id_card"),
    ),
    "social_insurance": (
        M("resident_pension_enrolment", "城乡居民养老保险参保登记",
          "Enrolment in urban and rural residents' pension insurance",
          E, 5, "id_card household_register photo"),
        M("resident_pension_claim", "城乡居民养老保险待遇申领",
          "Claiming urban and rural residents' pension benefits",
          E, 15, "id_card household_register photo bank_passbook"),
        M("resident_medical_enrolment", "城乡居民基本医疗保险参保登记",
          "Enrolment in urban and rural residents' basic medical insurance",
          E, 5, "id_card household_register photo"),
        M("medical_premium_relief", "城乡居民医疗保险个人缴费减免审核",
          "Review of premium relief in residents' medical insurance",
          E, 10, "id_card household_register allowance_cert"),
        M("retiree_socialized_management", "企业退休人员社会化管理服务接收",
          "Taking enterprise retirees into socialized management",
          E, 10, "id_card household_register retirement_cert photo"),
        M("pension_entitlement_check", "养老金领取资格认证",
          "Annual verification of pension entitlement", E, 1, "id_card retirement_cert"),
        M("flexible_worker_enrolment", "灵活就业人员社会保险参保登记",
          "Social insurance enrolment of flexibly employed persons",
          E, 5, "id_card household_register employment_card"),
        M("flexible_worker_subsidy", "灵活就业人员社会保险补贴申请",
          "Social insurance subsidy for flexibly employed persons",
          E, 15, "id_card employment_card bank_passbook application_form"),
        M("land_acquired_farmer_insurance", "征地农转非人员社会保险参保审核",
          "Social insurance of farmers turned urban residents by land acquisition",
          E, 20, "id_card household_register resettlement_proof"),
        M("retiree_death_benefit", "退休人员丧葬补助金和抚恤金申领",
          "Funeral grant and survivors' pension on a retiree's death",
          E, 15, "id_card household_register retirement_cert death_cert"),
        M("insurance_record_print", "社会保险个人权益记录查询打印",
          "Printing personal social insurance records", E, 1, "id_card"),
    ),
    "family_planning": (
        M("birth_service_cert", "生育服务证办理", "Issuing the birth service certificate",
          A, 5, "id_card household_register marriage_cert photo"),
        M("additional_child_precheck", "再生育一个子女申请初审",
          "Preliminary review of applications to have another child",
          E, 20, "id_card household_register marriage_cert birth_cert application_form"),
        M("migrant_marriage_fertility_cert", "流动人口婚育证明办理",
          "Issuing the migrant's marriage and childbearing certificate",
          A, 3, "id_card household_register marriage_cert photo"),
        M("only_child_cert", "独生子女父母光荣证办理",
          "Issuing the only-child parents' certificate of honour",
          A, 10, "id_card household_register marriage_cert birth_cert photo"),
        M("rural_fp_reward", "农村部分计划生育家庭奖励扶助申报",
          "Reward and support for rural family-planning households",
          E, 20, "id_card household_register only_child_cert"),
        M("fp_special_support", "计划生育家庭特别扶助申报",
          "Special support for family-planning households that lost or have a disabled only "
          "child", E, 20, "id_card household_register only_child_cert statement"),
        M("free_fp_services", "计划生育免费技术服务登记",
          "Registration for free family-planning technical services",
          E, 1, "id_card birth_service_cert"),
        M("retiree_only_child_bonus", "企业退休人员独生子女父母一次性奖励申领",
          "One-off reward for enterprise retirees who are only-child parents",
          E, 15, "id_card only_child_cert retirement_cert"),
        M("fp_status_statement", "计划生育情况证明出具",
          "Statement of family-planning status", A, 3, "id_card household_register marriage_cert"),
        M("migrant_fp_verification", "流动人口计划生育信息核查",
          "Verification of migrants' family-planning information",
          E, 10, "id_card marriage_fertility_cert"),
    ),
    "employment": (
        M("employment_registration", "就业登记", "Employment registration",
          E, 5, "id_card household_register labour_contract"),
        M("unemployment_registration", "失业登记", "Unemployment registration",
          E, 5, "id_card household_register termination_proof photo"),
        M("employment_card", "就业失业登记证办理",
          "Issuing the employment and unemployment registration card",
          E, 5, "id_card household_register photo termination_proof"),
        M("employment_difficulty", "就业困难人员认定",
          "Recognition of persons with employment difficulties",
          E, 10, "id_card household_register employment_card application_form"),
        M("public_welfare_post", "公益性岗位安置申请",
          "Placement in public-welfare posts", E, 15, "id_card employment_card application_form"),
        M("startup_loan_precheck", "小额担保贷款申请初审",
          "Preliminary review of small guaranteed business start-up loans",
          E, 10, "id_card household_register employment_card business_licence application_form"),
        M("skills_training", "职业技能培训报名", "Enrolment in vocational skills training",
          E, 3, "id_card employment_card photo"),
        M("flexible_employment", "灵活就业认定", "Recognition of flexible employment",
          E, 5, "id_card employment_card statement"),
        M("wage_arrears_complaint", "劳动保障监察投诉受理",
          "Acceptance of labour inspection complaints (e.g. wage arrears)",
          E, 5, "id_card labour_contract statement"),
    ),
    "disability": (
        M("disability_cert_precheck", "残疾人证办理初审",
          "Preliminary review for the disability certificate",
          E, 15, "id_card household_register photo application_form"),
        M("disability_living_subsidy", "困难残疾人生活补助申请",
          "Living subsidy for disabled people in hardship",
          E, 15, "id_card household_register disability_cert income_proof"),
        M("disability_insurance_subsidy", "残疾人社会保险补贴申请",
          "Social insurance subsidy for disabled people",
          E, 15, "id_card disability_cert application_form"),
        M("assistive_devices", "残疾人辅助器具适配申请",
          "Fitting of assistive devices", E, 15, "id_card disability_cert photo"),
        M("rehabilitation", "残疾人康复服务申请", "Rehabilitation services for disabled people",
          E, 10, "id_card disability_cert medical_record"),
        M("education_grant", "残疾学生及残疾人家庭子女助学申请",
          "Education grants for disabled students and children of disabled parents",
          E, 15, "id_card household_register disability_cert student_proof"),
        M("employment_assistance", "残疾人就业援助登记",
          "Employment assistance registration for disabled people",
          E, 5, "id_card disability_cert photo"),
        M("barrier_free_home", "贫困残疾人家庭无障碍改造申请",
          "Barrier-free home adaptation for poor disabled households",
          E, 20, "id_card disability_cert property_cert application_form"),
    ),
    "elderly": (
        M("longevity_allowance", "高龄津贴申领", "Allowance for the very old",
          E, 15, "id_card household_register bank_passbook photo", "civil_affairs"),
        M("senior_preferential_card", "老年人优待证办理",
          "Issuing the senior citizens' preferential treatment card",
          E, 10, "id_card household_register photo"),
        M("home_care_subsidy", "居家养老服务补贴申请", "Home elderly care service subsidy",
          E, 15, "id_card household_register income_proof application_form", "civil_affairs"),
        M("care_home_admission", "公办养老机构入住评估申请",
          "Admission assessment for public care homes",
          E, 15, "id_card household_register medical_record application_form", "civil_affairs"),
        M("senior_bus_card", "老年人乘车优惠卡办理", "Senior citizens' bus pass",
          E, 10, "id_card household_register photo"),
        M("senior_health_check", "老年人免费健康体检登记",
          "Registration for free health checks of the elderly", E, 3, "id_card", "health"),
        M("centenarian_subsidy", "百岁老人长寿补助申领", "Longevity subsidy for centenarians",
          E, 15, "id_card household_register bank_passbook"),
    ),
    "housing_security": (
        M("lowrent_review", "廉租住房保障申请审核", "Review of low-rent housing applications",
          E, 20, "id_card household_register income_proof housing_status_proof application_form"),
        M("rent_subsidy_review", "廉租住房租赁补贴申请审核",
          "Review of low-rent housing rent subsidy applications",
          E, 20, "id_card household_register income_proof tenancy_contract"),
        M("public_rental_review", "公共租赁住房申请审核",
          "Review of public rental housing applications",
          E, 20, "id_card household_register income_proof housing_status_proof"),
        M("affordable_housing_precheck", "经济适用住房购买资格初审",
          "Preliminary review of eligibility to buy affordable housing",
          E, 20, "id_card household_register income_proof housing_status_proof"),
        M("annual_recheck", "住房保障对象年度复核",
          "Annual review of housing-security households",
          E, 20, "id_card household_register income_proof"),
        M("shantytown_eligibility", "棚户区改造住户资格核查",
          "Eligibility check of households in shanty-town redevelopment",
          E, 20, "id_card household_register property_cert"),
    ),
    "urban_management": (
        M("road_occupation_precheck", "临时占用城市道路审批初审",
          "Preliminary review of temporary occupation of city roads",
          E, 5, "application_form business_licence site_plan"),
        M("shop_signboard", "户外招牌设置审核", "Review of outdoor shop signboards",
          E, 5, "application_form business_licence design_drawing"),
        M("frontage_responsibility", "门前三包责任书签订",
          "Signing \"three guarantees in front of the door\" agreements",
          E, 1, "business_licence id_card"),
        M("construction_waste", "建筑垃圾处置申报", "Declaration of construction waste disposal",
          E, 5, "application_form business_licence site_plan"),
        M("outdoor_promotion", "临时性户外宣传促销活动审批初审",
          "Preliminary review of temporary outdoor promotional events",
          E, 3, "application_form business_licence site_plan activity_plan"),
        M("tree_pruning_precheck", "树木修剪移植申请初审",
          "Preliminary review of tree pruning and transplanting",
          E, 10, "application_form site_plan"),
        M("vending_stall", "疏导点摊位经营登记",
          "Registration of stalls at designated vending areas",
          E, 5, "id_card photo application_form"),
        M("renovation_waste", "装修垃圾清运登记", "Registration of renovation waste removal",
          E, 2, "id_card property_cert"),
    ),
    "work_safety": (
        M("fireworks_retail_precheck", "烟花爆竹零售经营许可初审",
          "Preliminary review of fireworks retail licences",
          E, 10, "business_licence id_card application_form site_plan safety_rules"),
        M("small_unit_filing", "小型生产经营单位安全生产备案",
          "Work-safety filing of small production and business units",
          E, 5, "business_licence safety_rules application_form"),
        M("hazchem_trading_precheck", "危险化学品经营许可(不带储存)初审",
          "Preliminary review of hazardous chemicals trading licences (no storage)",
          E, 15, "business_licence id_card safety_rules training_cert"),
        M("principal_training", "生产经营单位主要负责人安全培训报名",
          "Safety training enrolment for principals of business units",
          E, 3, "id_card business_licence photo"),
        M("responsibility_agreement", "安全生产责任书签订",
          "Signing work-safety responsibility agreements", E, 2, "business_licence id_card"),
        M("small_premises_check", "九小场所安全条件核查",
          "Safety check of small premises (\"nine small places\")",
          E, 5, "business_licence safety_rules"),
    ),
}

#: Community level (社区居委会 / 社区服务站): 9 categories, 75 items.
COMMUNITY_MATTERS: dict[str, tuple[M, ...]] = {
    "housing_security": (
        M("lowrent_precheck", "廉租住房申请受理及初审",
          "Acceptance and first check of low-rent housing applications",
          E, 10, "id_card household_register income_proof housing_status_proof application_form"),
        M("rent_subsidy_precheck", "廉租住房租赁补贴申请受理",
          "Acceptance of low-rent housing rent subsidy applications",
          E, 10, "id_card household_register income_proof tenancy_contract"),
        M("public_rental_precheck", "公共租赁住房申请受理",
          "Acceptance of public rental housing applications",
          E, 10, "id_card household_register income_proof housing_status_proof"),
        M("home_visit_survey", "住房保障家庭入户调查",
          "Home-visit survey of housing-security applicants",
          E, 10, "id_card household_register housing_status_proof"),
        M("public_notice", "住房保障申请对象社区公示",
          "Community public notice of housing-security applicants",
          E, 7, "application_form"),
        M("housing_status_statement", "住房状况证明出具", "Statement of housing situation",
          A, 3, "id_card household_register tenancy_contract"),
        M("change_report", "住房保障对象信息变更申报",
          "Change reports of housing-security households",
          E, 5, "id_card household_register statement"),
    ),
    "education_culture_sports": (
        M("venue_booking", "社区文体活动场地预约",
          "Booking community culture and sports venues", E, 2, "id_card activity_plan"),
        M("library_card", "社区图书室借阅证办理", "Community library card", E, 1, "id_card photo"),
        M("school_residence_statement", "适龄儿童入学居住情况证明",
          "Residence statement for school enrolment of children",
          E, 3, "id_card household_register property_cert", "education"),
        M("migrant_children_school", "进城务工人员随迁子女入学申请初审",
          "Preliminary review of school places for migrant workers' children",
          E, 10, "id_card household_register residence_permit labour_contract birth_cert",
          "education"),
        M("student_aid", "困难家庭学生资助申请",
          "Aid for students from families in hardship",
          E, 10, "id_card household_register income_proof student_proof", "education"),
        M("team_registration", "社区文体团队登记",
          "Registration of community culture and sports groups",
          E, 5, "application_form id_card activity_plan"),
        M("fitness_equipment", "全民健身路径器材申请",
          "Application for public fitness equipment", E, 15, "application_form site_plan"),
        M("community_courses", "社区教育培训报名", "Enrolment in community education courses",
          E, 2, "id_card photo", "education"),
    ),
    "comprehensive_governance": (
        M("people_mediation", "人民调解申请", "Application for people's mediation",
          A, 15, "id_card statement", "justice"),
        M("community_correction", "社区矫正人员报到登记",
          "Check-in of persons under community correction",
          E, 1, "id_card court_judgment photo", "justice"),
        M("released_prisoner_aid", "刑满释放人员安置帮教登记",
          "Resettlement and assistance registration of released prisoners",
          E, 3, "id_card household_register release_cert", "justice"),
        M("migrant_registration", "流动人口登记", "Registration of the migrant population",
          E, 1, "id_card photo tenancy_contract", "public_security"),
        M("residence_permit", "居住证申领受理", "Acceptance of residence permit applications",
          E, 10, "id_card photo tenancy_contract", "public_security"),
        M("rental_housing_registration", "出租房屋登记备案", "Registration of rental housing",
          E, 3, "id_card property_cert tenancy_contract", "public_security"),
        M("petition_registration", "信访事项登记受理",
          "Registration of letters and visits (petitions)", E, 15, "id_card statement",
          "petitions"),
        M("legal_aid_acceptance", "法律援助申请受理", "Acceptance of legal aid applications",
          E, 5, "id_card income_proof statement", "justice"),
        M("security_volunteer", "群防群治治安志愿者登记",
          "Registration of public-security volunteers", E, 2, "id_card photo"),
        M("drug_rehab_checkin", "社区戒毒社区康复人员报到",
          "Check-in of persons in community drug treatment or rehabilitation",
          E, 1, "id_card rehab_decision photo", "public_security"),
    ),
    "civil_affairs": (
        M("allowance_acceptance", "最低生活保障申请受理",
          "Acceptance of minimum living allowance applications",
          E, 5, "id_card household_register income_proof application_form photo"),
        M("allowance_home_survey", "低保入户调查",
          "Home-visit survey for the minimum living allowance",
          E, 10, "id_card household_register income_proof"),
        M("allowance_public_notice", "低保对象民主评议及公示",
          "Democratic appraisal and public notice of allowance applicants",
          E, 7, "application_form"),
        M("allowance_recheck", "低保对象动态管理复核",
          "Periodic re-check of allowance recipients", E, 10, "allowance_cert income_proof"),
        M("temporary_assistance_acceptance", "临时救助申请受理",
          "Acceptance of temporary assistance applications",
          E, 3, "id_card household_register statement"),
        M("residence_statement", "居住证明出具", "Statement of residence",
          A, 1, "id_card household_register"),
        M("hardship_statement", "家庭困难情况证明出具", "Statement of household hardship",
          A, 3, "id_card household_register income_proof"),
        M("entitled_registration", "优抚对象信息登记",
          "Registration of entitled groups (veterans, martyrs' families)",
          E, 3, "id_card household_register discharge_cert"),
        M("funeral_waiver_acceptance", "殡葬费用减免申请受理",
          "Acceptance of funeral fee waiver applications",
          E, 3, "id_card household_register death_cert"),
        M("charity_goods", "社区慈善物资领取登记", "Registration to receive charity goods",
          E, 1, "id_card allowance_cert"),
        M("volunteer_registration", "社区志愿者注册", "Community volunteer registration",
          E, 1, "id_card photo"),
    ),
    "labour_security": (
        M("resident_pension_acceptance", "城乡居民养老保险参保受理",
          "Acceptance of residents' pension insurance enrolment",
          E, 3, "id_card household_register photo"),
        M("resident_medical_acceptance", "城乡居民医疗保险参保受理",
          "Acceptance of residents' medical insurance enrolment",
          E, 3, "id_card household_register photo"),
        M("pension_entitlement_check", "养老金领取资格认证",
          "Annual verification of pension entitlement", E, 1, "id_card retirement_cert"),
        M("retiree_registration", "退休人员信息登记及走访",
          "Registration and visits of retirees in socialized management",
          E, 3, "id_card retirement_cert"),
        M("unemployment_acceptance", "失业登记受理",
          "Acceptance of unemployment registration",
          E, 2, "id_card household_register termination_proof"),
        M("job_seeker_registration", "求职登记", "Job-seeker registration", E, 1, "id_card photo"),
        M("job_referral", "就业岗位推荐", "Job referral", E, 5, "id_card employment_card"),
        M("training_acceptance", "职业培训报名受理",
          "Acceptance of vocational training enrolment", E, 2, "id_card employment_card"),
        M("zero_employment_family", "零就业家庭认定申请受理",
          "Acceptance of applications to recognise zero-employment families",
          E, 5, "id_card household_register employment_card"),
    ),
    "family_planning": (
        M("birth_service_cert_acceptance", "生育服务证申请受理",
          "Acceptance of birth service certificate applications",
          E, 2, "id_card household_register marriage_cert photo"),
        M("migrant_fp_registration", "流动人口计划生育登记",
          "Family-planning registration of migrants", E, 1, "id_card marriage_fertility_cert"),
        M("free_contraceptives", "免费避孕药具发放", "Free contraceptives", E, 1, "id_card"),
        M("special_support_acceptance", "计划生育家庭特别扶助申请受理",
          "Acceptance of special support applications of family-planning households",
          E, 3, "id_card household_register only_child_cert"),
        M("rural_reward_acceptance", "农村部分计划生育家庭奖励扶助申报受理",
          "Acceptance of reward and support claims of rural family-planning households",
          E, 3, "id_card household_register only_child_cert"),
        M("only_child_cert_acceptance", "独生子女父母光荣证申请受理",
          "Acceptance of only-child certificate applications",
          E, 2, "id_card household_register birth_cert"),
        M("marital_status_verification", "婚育状况核实",
          "Verification of marriage and childbearing status",
          E, 3, "id_card household_register marriage_cert"),
        M("migrant_marriage_cert_acceptance", "流动人口婚育证明申请受理",
          "Acceptance of migrants' marriage and childbearing certificate applications",
          E, 1, "id_card household_register photo"),
        M("prepregnancy_check", "免费孕前优生健康检查登记",
          "Registration for free pre-pregnancy health checks", E, 1, "id_card marriage_cert"),
        M("only_child_reward_acceptance", "独生子女父母奖励费申领受理",
          "Acceptance of claims for the only-child parents' reward",
          E, 3, "id_card only_child_cert bank_passbook"),
    ),
    "disability": (
        M("disability_cert_acceptance", "残疾人证申请受理",
          "Acceptance of disability certificate applications",
          E, 2, "id_card household_register photo"),
        M("living_subsidy_acceptance", "困难残疾人生活补助申请受理",
          "Acceptance of living subsidy applications of disabled people",
          E, 3, "id_card disability_cert income_proof"),
        M("needs_survey", "残疾人基本服务状况和需求调查",
          "Survey of disabled people's services and needs", E, 10, "id_card disability_cert"),
        M("assistive_device_acceptance", "辅助器具申请受理",
          "Acceptance of assistive device applications", E, 3, "id_card disability_cert"),
        M("community_rehab_registration", "社区康复登记",
          "Community rehabilitation registration", E, 2, "id_card disability_cert"),
        M("job_seeker_registration", "残疾人求职登记",
          "Job-seeker registration of disabled people", E, 1, "id_card disability_cert photo"),
        M("cert_renewal_acceptance", "残疾人证换领受理",
          "Acceptance of disability certificate renewals",
          E, 2, "id_card disability_cert photo"),
    ),
    "elderly": (
        M("senior_card_proxy", "老年人优待证代办",
          "Applying for senior preferential cards on residents' behalf",
          E, 5, "id_card household_register photo"),
        M("longevity_allowance_acceptance", "高龄津贴申请受理",
          "Acceptance of very-old allowance applications",
          E, 3, "id_card household_register bank_passbook", "civil_affairs"),
        M("home_care_acceptance", "居家养老服务申请受理",
          "Acceptance of home elderly care applications",
          E, 3, "id_card household_register application_form", "civil_affairs"),
        M("empty_nest_registration", "空巢老人登记及探访",
          "Registration and visits of empty-nest elderly", E, 3, "id_card household_register"),
        M("senior_bus_card_proxy", "老年人乘车卡代办",
          "Applying for senior bus passes on residents' behalf", E, 5, "id_card photo"),
        M("seniors_association", "老年协会会员登记",
          "Senior citizens' association membership", E, 1, "id_card photo"),
    ),
    "urban_management": (
        M("sanitation_report", "环境卫生问题受理", "Acceptance of sanitation problem reports",
          E, 2, "statement"),
        M("bulky_waste", "大件垃圾清运预约", "Booking bulky waste removal", E, 3, "id_card"),
        M("dog_registration_precheck", "养犬登记初审", "Preliminary dog registration",
          E, 5, "id_card household_register photo dog_vaccine_cert", "public_security"),
        M("illegal_building_report", "违法搭建举报受理",
          "Acceptance of reports of illegal construction", E, 2, "statement"),
        M("renovation_registration", "房屋装修登记", "Home renovation registration",
          E, 2, "id_card property_cert"),
        M("green_adoption", "绿地认建认养登记", "Registration to adopt green spaces",
          E, 5, "application_form id_card"),
        M("notice_board_posting", "社区公告栏信息张贴申请",
          "Posting notices on community bulletin boards", E, 1, "id_card application_form"),
    ),
}

#: District level: matters the window can only refer (not counted in 9/77 or 9/75).
DISTRICT_MATTERS: dict[str, tuple[M, ...]] = {
    "civil_affairs": (
        M("marriage_registration", "结婚登记", "Marriage registration",
          E, 1, "id_card household_register photo"),
    ),
    "social_insurance": (
        M("unemployment_benefit", "失业保险金申领", "Claiming unemployment insurance benefits",
          E, 10, "id_card termination_proof employment_card bank_passbook"),
    ),
    "employment": (
        M("labour_arbitration", "劳动人事争议仲裁申请",
          "Application for labour and personnel dispute arbitration",
          E, 5, "id_card labour_contract statement application_form"),
    ),
    "business_registration": (
        M("sole_trader_licence", "个体工商户设立登记",
          "Registration of an individual industrial and commercial household",
          E, 15, "id_card photo tenancy_contract application_form"),
    ),
    "planning_construction": (
        M("construction_planning_permit", "建设工程规划许可证核发",
          "Construction project planning permit",
          E, 20, "application_form land_use_permit design_drawing site_plan"),
    ),
    "household_registration": (
        M("hukou_transfer", "户口迁移", "Household registration transfer",
          E, 10, "id_card household_register migration_permit"),
    ),
    "health_licensing": (
        M("public_place_hygiene_licence", "公共场所卫生许可证核发",
          "Hygiene licence for public places",
          E, 20, "business_licence application_form site_plan health_cert"),
    ),
    "education_culture_sports": (
        M("private_school_approval", "民办教育机构设立审批",
          "Approval of a private education institution",
          E, 30, "application_form charter site_plan id_card", "education"),
    ),
}

LEVEL_TABLES: dict[Level, tuple[str, dict[str, tuple[M, ...]]]] = {
    "street": ("st", STREET_MATTERS),
    "community": ("cm", COMMUNITY_MATTERS),
    "district": ("dt", DISTRICT_MATTERS),
}

# --------------------------------------------------------------------------------------------
# Builders
# --------------------------------------------------------------------------------------------


def _department(code: str) -> Department:
    name_zh, name_en = DEPARTMENTS[code]
    return Department(code=code, name_zh=name_zh, name_en=name_en)


def _category(code: str) -> Category:
    row = CATEGORIES[code]
    return Category(code=code, name_zh=row.name_zh, name_en=row.name_en)


def materials_table() -> dict[str, Material]:
    """The shared table of required materials, code -> `Material`."""
    return {code: Material(code=code, name_zh=zh, name_en=en)
            for code, (zh, en) in MATERIALS.items()}


def _reviewers(category: str, proposer: str) -> list[Department]:
    """The category's home department (when it is not the proposer), then its usual reviewers;
    never the proposer itself; at most three."""
    home = CATEGORIES[category].department
    codes = [home, *CATEGORIES[category].reviewers]
    chosen: list[str] = []
    for code in codes:
        if code != proposer and code not in chosen:
            chosen.append(code)
    return [_department(code) for code in chosen[:3]]


def _propose(level: Level, category: str, row: M, materials: dict[str, Material]
             ) -> ProposeMatter:
    prefix, _ = LEVEL_TABLES[level]
    code = f"{prefix}.{CATEGORIES[category].short}.{row.slug}"
    proposer = row.department or CATEGORIES[category].department
    terms = MatterTerms(
        name_zh=row.name_zh, name_en=row.name_en, category=_category(category), level=level,
        delegation=row.delegation, department=_department(proposer),
        time_limit_days=row.days, materials=[materials[m] for m in row.materials.split()],
        sourced=code in SOURCED_MATTERS,
    )
    return ProposeMatter(matter_code=code, kind="new", terms=terms,
                         reviewers=_reviewers(category, proposer),
                         proposed_by=_department(proposer))


def reform_catalogue() -> list[ProposeMatter]:
    """Every matter of the catalogue as a new-matter proposal: street, community, district."""
    materials = materials_table()
    return [_propose(level, category, row, materials)
            for level, (_, table) in LEVEL_TABLES.items()
            for category, rows in table.items()
            for row in rows]


def counts() -> dict[Level, tuple[int, int]]:
    """Level -> (categories, items), counted from the tables."""
    return {level: (len(table), sum(len(rows) for rows in table.values()))
            for level, (_, table) in LEVEL_TABLES.items()}
