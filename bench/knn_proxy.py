#!/usr/bin/env python3
"""Round 7 proxy (train file only, never a *_test file): does a nearest-neighbour or
class-centroid member help a linear SVM on short questions? sklearn LinearSVC on
char_wb 2-5 + 0.5 x word 1-2 TF-IDF (balanced classes) against the same SVM mixed with
k-NN (k 3/7) or Rocchio cosine scores, on 80/20 per-class splits drawn as make_bench.py
draws its test split. Usage: bench/knn_proxy.py TRAIN.jsonl N_SPLITS SEED_BASE"""
import json, collections, sys, os
import numpy as np
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.svm import LinearSVC
from sklearn.metrics import f1_score
from scipy.sparse import hstack
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from holdout import split_by_label  # the same draw as bench/holdout.py (SHARE, default 0.2)
src=sys.argv[1]; n=int(sys.argv[2]); base=int(sys.argv[3])
rows=[json.loads(l) for l in open(src) if l.strip()]
res=collections.defaultdict(list)
for s in range(1,n+1):
    tr,te=split_by_label(rows,base+s)
    c=TfidfVectorizer(analyzer="char_wb",ngram_range=(2,5),sublinear_tf=True)
    w=TfidfVectorizer(analyzer="word",ngram_range=(1,2),sublinear_tf=True,strip_accents="unicode")
    Xt=[r["text"] for r in tr]; Xe=[r["text"] for r in te]
    A=hstack([c.fit_transform(Xt),0.5*w.fit_transform(Xt)]).tocsr(); B=hstack([c.transform(Xe),0.5*w.transform(Xe)]).tocsr()
    from sklearn.preprocessing import normalize
    A=normalize(A); B=normalize(B)
    y=np.array([r["label"] for r in tr]); yt=[r["label"] for r in te]
    svm=LinearSVC(C=1.0,class_weight="balanced").fit(A,y)
    D=svm.decision_function(B); cls=svm.classes_
    res["svm"].append(f1_score(yt,cls[D.argmax(1)],average="macro",zero_division=0))
    S=(B@A.T).toarray()
    Y=np.zeros((len(y),len(cls))); idx={c:i for i,c in enumerate(cls)}
    for i,l in enumerate(y): Y[i,idx[l]]=1
    Ds=(D-D.mean(1,keepdims=True))/D.std()
    for k in (3,7):
        K=np.zeros_like(S)
        top=np.argsort(-S,1)[:,:k]
        for i in range(len(S)): K[i,top[i]]=S[i,top[i]]
        C=K@Y
        res[f"knn{k}"].append(f1_score(yt,cls[C.argmax(1)],average="macro",zero_division=0))
        Cs=(C-C.mean(1,keepdims=True))/C.std()
        for mu in (0.2,0.35,0.5):
            M=(1-mu)*Ds+mu*Cs
            res[f"mix k{k} mu{mu}"].append(f1_score(yt,cls[M.argmax(1)],average="macro",zero_division=0))
    # class centroid (Rocchio) mix
    P=normalize(Y.T@A.toarray()) 
    R=B@P.T
    Rs=(R-R.mean(1,keepdims=True))/R.std()
    res["rocchio"].append(f1_score(yt,cls[R.argmax(1)],average="macro",zero_division=0))
    for mu in (0.2,0.35):
        res[f"mix rocchio {mu}"].append(f1_score(yt,cls[((1-mu)*Ds+mu*Rs).argmax(1)],average="macro",zero_division=0))
import statistics as st
b=res["svm"]
for k,v in res.items():
    d=[a-x for a,x in zip(v,b)]
    print(f"{k:22s} {st.mean(v):.4f} vs svm {st.mean(d):+.4f} ± {st.stdev(d)/len(d)**.5:.4f} wins {sum(x>0 for x in d)}/{len(d)}")
