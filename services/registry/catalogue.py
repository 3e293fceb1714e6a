"""The service centre's 33 resident service items (居民服务事项): what to bring and how long each
takes in working days. Reference data every community needs, so a migration loads it."""

ID = "居民身份证"
HUKOU = "户口簿"
PHOTO = "一寸证件照"

# (code, name, category, materials, time limit in working days)
SERVICE_ITEMS = [
    ("MI-01", "城乡居民医疗保险参保登记", "medical_insurance", [ID, HUKOU], 3),
    ("MI-02", "医保电子凭证激活（亲情账户绑定）", "medical_insurance", [ID], 1),
    ("MI-03", "城乡居民医疗保险缴费", "medical_insurance", [ID], 1),
    ("MI-04", "门诊慢特病待遇申请", "medical_insurance", [ID, "诊断证明", "病历"], 10),
    ("MI-05", "异地就医备案", "medical_insurance", [ID, "医保卡"], 3),
    ("PI-01", "城乡居民养老保险参保登记", "pension_insurance", [ID, HUKOU], 3),
    ("PI-02", "养老保险待遇领取资格认证", "pension_insurance", [ID], 1),
    ("PI-03", "城乡居民养老保险待遇申领", "pension_insurance", [ID, HUKOU, "银行卡"], 10),
    ("PI-04", "养老保险关系转移接续", "pension_insurance", [ID, "参保缴费凭证"], 15),
    ("FP-01", "生育登记", "family_planning", [ID, "结婚证"], 3),
    ("FP-02", "计划生育家庭奖励扶助申请", "family_planning", [ID, HUKOU, "独生子女证"], 20),
    ("FP-03", "独生子女父母光荣证办理", "family_planning", [ID, HUKOU, PHOTO], 10),
    ("FP-04", "计划生育特殊家庭扶助申请", "family_planning", [ID, HUKOU, "相关证明"], 20),
    ("VA-01", "退役军人信息采集", "veterans_affairs", [ID, "退伍证"], 3),
    ("VA-02", "退役军人优待证申领", "veterans_affairs", [ID, "退伍证", PHOTO], 20),
    ("VA-03", "光荣牌悬挂申请", "veterans_affairs", [ID, "退伍证"], 10),
    ("VA-04", "优抚对象抚恤补助申请", "veterans_affairs", [ID, "优抚证"], 20),
    ("SA-01", "最低生活保障申请", "social_assistance", [ID, HUKOU, "收入证明"], 30),
    ("SA-02", "特困人员救助供养申请", "social_assistance", [ID, HUKOU], 30),
    ("SA-03", "临时救助申请", "social_assistance", [ID, "困难情况说明"], 10),
    ("SA-04", "高龄津贴申请", "elderly_care", [ID, HUKOU, "银行卡"], 10),
    ("SA-05", "经济困难老年人服务补贴申请", "elderly_care", [ID, "收入证明"], 15),
    ("SA-06", "老年人优待证办理", "elderly_care", [ID, PHOTO], 5),
    ("DP-01", "残疾人证办理", "disability", [ID, HUKOU, PHOTO, "医院评定"], 20),
    ("DP-02", "困难残疾人生活补贴申请", "disability", [ID, "残疾人证"], 15),
    ("DP-03", "重度残疾人护理补贴申请", "disability", [ID, "残疾人证"], 15),
    ("EM-01", "就业登记", "employment", [ID], 3),
    ("EM-02", "失业登记", "employment", [ID, "解除劳动合同证明"], 3),
    ("EM-03", "灵活就业人员社保登记", "employment", [ID], 5),
    ("CV-01", "居住证明开具", "civil_affairs", [ID, "房屋证明"], 2),
    ("CV-02", "居住证申领", "civil_affairs", [ID, PHOTO, "居住证明"], 15),
    ("CV-03", "殡葬补贴申请", "civil_affairs", [ID, "死亡证明", HUKOU], 10),
    ("CV-04", "房屋维修基金使用申请", "housing", ["业主身份证明", "维修方案"], 20),
]

assert len(SERVICE_ITEMS) == 33
