"""DenseNet-121 on ChestX-ray14 in PyTorch, one or several devices.

As 2017's notebooks/PyTorch_MultiGPU.ipynb: DenseNet-121 with a 14-way head, BCE over 14
sigmoid outputs, Adam (lr 1e-4 per GPU, betas 0.9/0.999), a torch DataLoader with worker
processes that opens each PNG with PIL and augments it (random crop 224, random horizontal
flip, ImageNet normalisation). Differences, all recorded in SETTINGS:
  * 2017 used torchvision's densenet121(pretrained=True) (ImageNet weights); the network is
    written out here with torchvision's structure and init (kaiming-normal convolutions), from
    random weights: no download in a benchmark run. Speed is the same; the AUC is not 2017's.
  * 2017's head was Linear + Sigmoid with BCELoss; here the logits go to
    binary_cross_entropy_with_logits (the same loss, numerically safer), predict applies sigmoid.
  * On N GPUs the reference runs 2017's program, nn.DataParallel in one process (the README
    table's "4xV100"): one DataLoader of 6 workers at the global batch, the model replicated on
    every GPU each step, validation at the global batch on every GPU. nn.DataParallel replicates
    over GPUs only: N replicas on the CPU need the ddp variant. The ddp variant runs
    DistributedDataParallel, one process per device (run.py starts them; gloo on CPU, nccl on
    GPUs), 6 loader workers each, validation on rank 0: PyTorch's recommended path today.
  * 2017's PyTorch notebook augmented with RandomResizedCrop(224) on the 264x264 copies (so did
    Gluon_MultiGPU); the README's description of the task, Tensorflow_MultiGPU and
    Chainer_MultiGPU take a random 224 crop of the 264 image plus a flip, which this file does
    (Keras_TF_MultiGPU resized to 224 and flipped: tasks/densenet/keras3.py).
DenseNet-121: Huang et al. 2017 (growth 32, blocks 6/12/24/16, bottleneck 4*growth, compression
0.5), torchvision's layout and module names (features.conv0 .. denseblock1.denselayer1 ..
norm5, classifier: torchvision's state-dict names, the canonical ones of `dlbench check-models`).
"""
from collections import OrderedDict

import numpy as np
import torch
import torch.distributed as torch_dist
import torch.nn as nn
import torch.nn.functional as F
import torch.optim as optim
from PIL import Image
from torch.utils.data import DataLoader, Dataset, DistributedSampler, RandomSampler

from common import canonical, chestxray
from frameworks import pytorch as fw

EQUIVALENCE = {"family": "densenet121-torchvision"}  # common/canonical.py FAMILIES
SETTINGS = {"layout": "NCHW",
            "network": "DenseNet-121 written out (torchvision's densenet121 structure), random "
                       "init (2017: ImageNet-pretrained)",
            "loader": "torch.utils.data.DataLoader, worker processes, PIL decode (+ bilinear "
                      "resize: originals only, see data.images), random crop + flip",
            "data_parallel": "nn.DataParallel in one process (reference: 2017's); "
                             "DistributedDataParallel, one process per device (variant ddp)"}


class DenseLayer(nn.Module):
    def __init__(self, channels, p):
        super(DenseLayer, self).__init__()
        width = p["bn_size"] * p["growth_rate"]
        self.norm1 = nn.BatchNorm2d(channels, eps=p["bn_eps"])
        self.conv1 = nn.Conv2d(channels, width, 1, bias=False)
        self.norm2 = nn.BatchNorm2d(width, eps=p["bn_eps"])
        self.conv2 = nn.Conv2d(width, p["growth_rate"], 3, padding=1, bias=False)

    def forward(self, x):
        out = self.conv1(F.relu(self.norm1(x)))
        out = self.conv2(F.relu(self.norm2(out)))
        return torch.cat([x, out], 1)


class Transition(nn.Module):
    def __init__(self, channels, out_channels, p):
        super(Transition, self).__init__()
        self.norm = nn.BatchNorm2d(channels, eps=p["bn_eps"])
        self.conv = nn.Conv2d(channels, out_channels, 1, bias=False)

    def forward(self, x):
        return F.avg_pool2d(self.conv(F.relu(self.norm(x))), 2, stride=2)


class DenseNet121(nn.Module):
    def __init__(self, p):
        super(DenseNet121, self).__init__()
        channels = p["num_init_features"]
        layers = [("conv0", nn.Conv2d(p["channels"], channels, 7, stride=2, padding=3,
                                      bias=False)),
                  ("norm0", nn.BatchNorm2d(channels, eps=p["bn_eps"])),
                  ("relu0", nn.ReLU(inplace=True)),
                  ("pool0", nn.MaxPool2d(3, stride=2, padding=1))]
        for i, n in enumerate(p["block_config"]):
            block = []
            for j in range(n):  # torchvision's names: denselayer1 ..
                block.append(("denselayer%d" % (j + 1), DenseLayer(channels, p)))
                channels += p["growth_rate"]
            layers.append(("denseblock%d" % (i + 1), nn.Sequential(OrderedDict(block))))
            if i != len(p["block_config"]) - 1:
                out = int(channels * p["compression"])
                layers.append(("transition%d" % (i + 1), Transition(channels, out, p)))
                channels = out
        layers.append(("norm5", nn.BatchNorm2d(channels, eps=p["bn_eps"])))
        self.features = nn.Sequential()
        for name, layer in layers:
            self.features.add_module(name, layer)
        self.classifier = nn.Linear(channels, p["n_classes"])
        for m in self.modules():  # torchvision's densenet init
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight)
            elif isinstance(m, nn.BatchNorm2d):
                nn.init.constant_(m.weight, 1)
                nn.init.constant_(m.bias, 0)
            elif isinstance(m, nn.Linear):
                nn.init.constant_(m.bias, 0)

    def forward(self, x):
        x = F.relu(self.features(x))
        x = F.adaptive_avg_pool2d(x, 1).flatten(1)
        return self.classifier(x)  # logits: the sigmoid lives in the loss


class ChestXrays(Dataset):
    """One image per item, decoded and augmented in the DataLoader's worker processes (torch's
    RNG, seeded per worker by the DataLoader, draws the crop and the flip)."""

    def __init__(self, paths, labels, p, train, resize):
        self.paths, self.labels, self.p, self.train = paths, labels, p, train
        self.resize = resize  # None: prepared copies, already p["resize"] square
        self.mean = np.asarray(p["mean"], np.float32).reshape(3, 1, 1)
        self.sd = np.asarray(p["sd"], np.float32).reshape(3, 1, 1)

    def __len__(self):
        return len(self.paths)

    def __getitem__(self, i):
        p = self.p
        image = Image.open(self.paths[i]).convert("RGB")
        if self.train:  # (bilinear resize to 264,) random 224 crop, random flip
            size = p["resize"]
            if self.resize:
                image = image.resize((size, size), Image.BILINEAR)
            top = int(torch.randint(0, size - p["height"] + 1, (1,)))
            left = int(torch.randint(0, size - p["width"] + 1, (1,)))
            image = image.crop((left, top, left + p["width"], top + p["height"]))
            if int(torch.randint(0, 2, (1,))):
                image = image.transpose(Image.FLIP_LEFT_RIGHT)
        else:  # evaluation: resized to 224, no augmentation
            image = image.resize((p["width"], p["height"]), Image.BILINEAR)
        x = np.asarray(image, dtype=np.float32).transpose(2, 0, 1) / np.float32(255.0)
        x = (x - self.mean) / self.sd
        return torch.from_numpy(np.ascontiguousarray(x)), torch.from_numpy(self.labels[i])


class EpochLoader(object):
    """One pass = one epoch; tells a DistributedSampler which epoch it is (its shuffle)."""

    def __init__(self, loader, sampler):
        self.loader, self.sampler, self.epoch = loader, sampler, 0

    def __iter__(self):
        if self.sampler is not None:
            self.sampler.set_epoch(self.epoch)
        self.epoch += 1
        return iter(self.loader)


def start_devices(p, rank):
    world = p["devices"]
    if world > 1 and not fw.DEVICE["ddp"] and not fw.DEVICE["cuda"]:
        raise RuntimeError("nn.DataParallel (the reference, 2017's PyTorch_MultiGPU) replicates "
                           "over GPUs only: use --variant ddp for %d replicas on the CPU" % world)
    if not fw.DEVICE["ddp"]:  # one process drives every GPU (nn.DataParallel), from cuda:0
        rank = 0
    device = torch.device("cuda:%d" % rank if fw.DEVICE["cuda"] else "cpu")
    if fw.DEVICE["cuda"]:
        if torch.cuda.device_count() < world:
            raise RuntimeError("%d GPUs asked for, PyTorch sees %d"
                               % (world, torch.cuda.device_count()))
        torch.cuda.set_device(rank)
    elif world > 1:  # the replicas share the CPU: split its threads between them
        torch.set_num_threads(max(1, torch.get_num_threads() // world))
    if world > 1 and fw.DEVICE["ddp"]:
        torch_dist.init_process_group("nccl" if fw.DEVICE["cuda"] else "gloo",
                                      init_method="env://", rank=rank, world_size=world)
    backend = None
    if world > 1:
        backend = torch_dist.get_backend() if fw.DEVICE["ddp"] else "nn.DataParallel"
    return {"rank": rank, "world": world, "device": device, "backend": backend,
            "ddp": fw.DEVICE["ddp"] and world > 1, "threads": torch.get_num_threads()}


def build_model(p, dist):
    return DenseNet121(p).to(dist["device"])


def count_parameters(model):
    return sum(w.numel() for w in model.parameters())


def build_trainer(model, p, dist):
    net = model
    if dist["ddp"]:
        net = nn.parallel.DistributedDataParallel(
            model, device_ids=[dist["rank"]] if fw.DEVICE["cuda"] else None)
    elif dist["world"] > 1:  # 2017's: the global batch split over the GPUs every step
        net = nn.DataParallel(model, device_ids=list(range(dist["world"])))
    return {"model": model, "net": net, "device": dist["device"],
            "optimizer": optim.Adam(net.parameters(), lr=p["global_lr"],
                                    betas=(p["beta1"], p["beta2"]), eps=p["eps"])}


def make_loader(split, p, dist, train, seed):
    # ddp: each rank loads its share at the per-device batch; else one loader at the global
    # batch (2017's PyTorch_MultiGPU scaled BATCHSIZE by the GPU count for every loader)
    ranks = dist["world"] if dist["ddp"] else 1
    batch = p["batch_size"] if dist["ddp"] else p["global_batch"]
    if "x" in split:  # synthetic, in RAM: this replica's share of each global batch
        return chestxray.InMemoryBatches(split, batch, train, dist["rank"] if dist["ddp"] else 0,
                                         ranks, convert=torch.from_numpy)
    dataset = ChestXrays(split["paths"], split["labels"], p, train,
                         chestxray.train_resize(split, p))
    sampler = None
    if train and dist["ddp"]:
        sampler = DistributedSampler(dataset, num_replicas=dist["world"], rank=dist["rank"],
                                     shuffle=True, seed=seed, drop_last=True)
    elif train:
        generator = torch.Generator()
        generator.manual_seed(seed)
        sampler = RandomSampler(dataset, generator=generator)
    loader = DataLoader(dataset, batch_size=batch, sampler=sampler,
                        drop_last=train, num_workers=p["loader_workers"],
                        pin_memory=fw.DEVICE["cuda"],
                        persistent_workers=p["loader_workers"] > 0)
    return EpochLoader(loader, sampler if isinstance(sampler, DistributedSampler) else None)


def train_step(state, x, y):
    net = state["net"]
    net.train()
    x = x.to(state["device"], non_blocking=True)
    y = y.to(state["device"], non_blocking=True)
    state["optimizer"].zero_grad()
    with fw.autocast():
        loss = F.binary_cross_entropy_with_logits(net(x), y)
    loss.backward()
    state["optimizer"].step()
    return loss.detach()


def to_float(loss):
    return float(loss.item())


def predict(state, x):
    # ddp: the module itself (DDP's forward would wait for the other ranks); DataParallel:
    # every GPU, as 2017 validated
    model = state["model"] if isinstance(
        state["net"], nn.parallel.DistributedDataParallel) else state["net"]
    model.eval()
    with torch.no_grad(), fw.autocast():
        out = torch.sigmoid(model(x.to(state["device"])).float())
    return out.cpu().numpy()


def sync(state):
    if fw.DEVICE["cuda"]:
        torch.cuda.synchronize()


def stop_devices(dist):
    if dist["ddp"] and torch_dist.is_initialized():
        torch_dist.barrier()
        torch_dist.destroy_process_group()


# model equivalence (`dlbench check-models`, common/canonical.py): torchvision's densenet121
# state-dict names are the canonical ones (num_batches_tracked, a counter, is no parameter)

def export_params(state):
    return dict((k, v.detach().cpu().numpy().copy())
                for k, v in state["model"].state_dict().items()
                if not k.endswith("num_batches_tracked"))


def import_params(state, params):
    canonical.check_keys(params, list(export_params(state)))
    # a plain dict: batch-norm fills in num_batches_tracked itself
    state["model"].load_state_dict(dict((k, torch.from_numpy(np.ascontiguousarray(v)))
                                        for k, v in params.items()))


def outputs(state, x):
    """The eval-mode logits (N, 14) as float32 numpy (batch-norm on its running statistics)."""
    model = state["model"]
    model.eval()
    with torch.no_grad(), fw.autocast():
        out = model(torch.from_numpy(np.ascontiguousarray(x)).to(state["device"]))
    return out.float().cpu().numpy()
